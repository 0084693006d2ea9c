/*
 * A STIX 2.0 bundle of our own, in the shape of the 2.0 specification's examples and of Unit 42's
 * published playbooks: spec_version on the bundle only, `labels` where 2.1 has *_types, no
 * pattern_type, no is_family, timestamps to the second.
 */
export const STIX20_BUNDLE = {
  type: 'bundle',
  id: 'bundle--5d0092c5-5f74-4287-9642-33f4c354e56d',
  spec_version: '2.0',
  objects: [
    { type: 'identity', id: 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff', created: '2016-04-06T20:03:00Z', modified: '2016-04-06T20:03:00Z', name: 'Threat desk', identity_class: ['organization'] },
    { type: 'marking-definition', id: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', created: '2017-01-20T00:00:00.000Z', definition_type: 'tlp', definition: { tlp: 'amber' } },
    { type: 'indicator', id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', created_by_ref: 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff', created: '2016-04-06T20:03:48Z', modified: '2016-04-06T20:03:48.5Z', labels: ['malicious-activity', 'emotet'], name: 'C2 server', pattern: "[ipv4-addr:value = '198.51.100.23']", valid_from: '2016-01-01T00:00:00Z' },
    { type: 'indicator', id: 'indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f', created: '2016-04-06T20:03:48.000Z', modified: '2016-04-06T20:03:48.000Z', labels: ['malicious-activity'], pattern: "[domain-name:value = 'amber.example']", valid_from: '2016-01-01T00:00:00Z', object_marking_refs: ['marking-definition--f88d31f6-486f-44da-b317-01333bde0b82'] },
    { type: 'malware', id: 'malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b', created: '2016-04-06T20:07:09Z', modified: '2016-04-06T20:07:09Z', name: 'Poison Ivy', labels: ['remote-access-trojan', 'family-x'] },
    { type: 'attack-pattern', id: 'attack-pattern--7e33a43e-e34b-40ec-89da-36c9bb2cacd5', created: '2016-05-12T08:17:27.000Z', modified: '2016-05-12T08:17:27.000Z', name: 'Spear Phishing', kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'initial-access' }], external_references: [{ source_name: 'capec', external_id: 'CAPEC-163' }] },
    { type: 'threat-actor', id: 'threat-actor--56f3f0db-b5d5-431c-ae56-c18f02caf500', created: '2016-08-08T15:50:10.983Z', modified: '2016-08-08T15:50:10.983Z', name: 'Fake BPP', labels: ['crime-syndicate'] },
    { type: 'tool', id: 'tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', created: '2016-04-06T20:03:48.000Z', modified: '2016-04-06T20:03:48.000Z', name: 'VNC', labels: ['remote-access'] },
    { type: 'relationship', id: 'relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad', created: '2016-04-06T20:06:37.000Z', modified: '2016-04-06T20:06:37.000Z', relationship_type: 'indicates', source_ref: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', target_ref: 'malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b' },
    { type: 'relationship', id: 'relationship--2f9a9aa9-108a-4333-83e2-4fb25add0463', created: '2016-05-12T08:17:27.000Z', modified: '2016-05-12T08:17:27.000Z', relationship_type: 'uses', source_ref: 'threat-actor--56f3f0db-b5d5-431c-ae56-c18f02caf500', target_ref: 'attack-pattern--7e33a43e-e34b-40ec-89da-36c9bb2cacd5' },
    { type: 'report', id: 'report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3', created: '2015-12-21T19:59:11Z', modified: '2016-05-21T19:59:11Z', name: 'The Black Vine Cyberespionage Group', published: '2016-01-20T17:00:00Z', labels: ['threat-report', 'campaign'], object_refs: ['indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b', 'relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad'] },
    { type: 'observed-data', id: 'observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf', created: '2016-04-06T19:58:16.000Z', modified: '2016-04-06T19:58:16.000Z', first_observed: '2015-12-21T19:00:00Z', last_observed: '2015-12-21T19:00:00Z', number_observed: 50, objects: { 0: { type: 'ipv4-addr', value: '203.0.113.9' } } },
    // Cannot be 2.1: a malware family without a name, an indicator whose pattern does not parse.
    { type: 'malware', id: 'malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061', created: '2016-04-06T20:07:09Z', modified: '2016-04-06T20:07:09Z', labels: ['ransomware'] },
    { type: 'indicator', id: 'indicator--a932fcc6-e032-476c-826f-cb970a5a1ade', created: '2016-04-06T20:03:48Z', modified: '2016-04-06T20:03:48Z', labels: ['malicious-activity'], pattern: "[file:hashes.MD5 = 'incomplete'", valid_from: '2016-01-01T00:00:00Z' }
  ]
}
