import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { ErrorCode } from '../../../src/errors.js'
import { identifierType, parseStixTimestamp, stixObjectsFromInput, validateStixObject } from '../../../src/stix/index.js'
import { IDENTITY, MARKING, T0, T1, edit, indicator, outcome, sco, sdo, uuid } from './fixtures.js'

const IPV4 = `ipv4-addr--${uuid()}`
const FILE = `file--${uuid()}`
const SOFTWARE = `software--${uuid()}`
const EMAIL = `email-addr--${uuid()}`
const MALWARE = `malware--${uuid()}`
const OBSERVED = `observed-data--${uuid()}`
const SHA256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'

const VALID: Array<[string, Record<string, unknown>]> = [
  ['attack-pattern', sdo('attack-pattern', { name: 'Spearphishing', kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'initial-access' }] })],
  ['campaign', sdo('campaign', { name: 'Green Group', first_seen: T0, last_seen: T1, objective: 'money' })],
  ['course-of-action', sdo('course-of-action', { name: 'Block the C2 range' })],
  ['grouping', sdo('grouping', { context: 'suspicious-activity', object_refs: [MALWARE, IPV4] })],
  ['identity', sdo('identity', { name: 'ACME CERT', identity_class: 'organization', sectors: ['technology'] })],
  ['incident', sdo('incident', { name: 'Ransomware at site 4' })],
  ['indicator', indicator("[ipv4-addr:value = '198.51.100.7']", { valid_until: T1 })],
  ['indicator, sigma pattern', indicator('title: x\ndetection: {}', { pattern_type: 'sigma' })],
  ['indicator, custom pattern type', indicator('anything', { pattern_type: 'x-acme-rules' })],
  ['infrastructure', sdo('infrastructure', { name: 'Botnet C2', infrastructure_types: ['command-and-control'] })],
  ['intrusion-set', sdo('intrusion-set', { name: 'Bobcat', aliases: ['Bobby'], goals: ['steal'], first_seen: T0 })],
  ['location, by region', sdo('location', { region: 'northern-america' })],
  ['location, by coordinates', sdo('location', { latitude: 48.8566, longitude: 2.3522, precision: 1000 })],
  ['malware family', sdo('malware', { name: 'Cryptolocker', is_family: true, malware_types: ['ransomware'], operating_system_refs: [SOFTWARE] })],
  ['malware instance without name', sdo('malware', { is_family: false, sample_refs: [FILE] })],
  ['malware-analysis', sdo('malware-analysis', { product: 'sandbox', result: 'malicious', analysis_started: T0, analysis_ended: T1 })],
  ['note', sdo('note', { content: 'seen again', object_refs: [MALWARE], authors: ['analyst'] })],
  ['observed-data', sdo('observed-data', { first_observed: T0, last_observed: T1, number_observed: 3, object_refs: [IPV4] })],
  ['observed-data, deprecated objects', sdo('observed-data', {
    first_observed: T0, last_observed: T0, number_observed: 1, objects: { 0: { type: 'ipv4-addr', value: '198.51.100.3' } }
  })],
  ['opinion', sdo('opinion', { opinion: 'strongly-agree', object_refs: [MALWARE] })],
  ['report', sdo('report', { name: 'Q3 report', published: T1, object_refs: [MALWARE, IPV4], report_types: ['threat-report'] })],
  ['threat-actor', sdo('threat-actor', { name: 'Evil Org', threat_actor_types: ['crime-syndicate'], roles: ['agent'] })],
  ['tool', sdo('tool', { name: 'mimikatz', tool_types: ['credential-exploitation'] })],
  ['vulnerability', sdo('vulnerability', { name: 'CVE-2016-1234', external_references: [{ source_name: 'cve', external_id: 'CVE-2016-1234' }] })],
  ['relationship', sdo('relationship', { relationship_type: 'indicates', source_ref: `indicator--${uuid()}`, target_ref: MALWARE, start_time: T0, stop_time: T1 })],
  ['relationship to an SCO', sdo('relationship', { relationship_type: 'based-on', source_ref: `indicator--${uuid()}`, target_ref: IPV4 })],
  ['sighting', sdo('sighting', {
    sighting_of_ref: `indicator--${uuid()}`, count: 0, first_seen: T0, last_seen: T1, observed_data_refs: [OBSERVED], where_sighted_refs: [IDENTITY], summary: false
  })],
  ['marking-definition, statement (no modified)', edit(sdo('marking-definition', { definition_type: 'statement', definition: { statement: 'Copyright ACME' } }), { modified: undefined })],
  ['marking-definition, TLP', { type: 'marking-definition', spec_version: '2.1', id: MARKING, created: '2017-01-20T00:00:00.000Z', definition_type: 'tlp', name: 'TLP:GREEN', definition: { tlp: 'green' } }],
  ['marking-definition, by extension', edit(sdo('marking-definition', {
    name: 'TLP:AMBER+STRICT', extensions: { [`extension-definition--${uuid()}`]: { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } }
  }), { modified: undefined })],
  ['language-content', sdo('language-content', { object_ref: MALWARE, object_modified: T0, contents: { de: { name: 'Schadsoftware' } } })],
  ['extension-definition', sdo('extension-definition', {
    created_by_ref: IDENTITY, name: 'acme', schema: 'https://example.com/schema.json', version: '1.0', extension_types: ['property-extension']
  })],
  ['artifact, payload', sco('artifact', { mime_type: 'text/plain', payload_bin: 'aGVsbG8gd29ybGQ=' })],
  ['artifact, by url', sco('artifact', { url: 'https://example.com/a.bin', hashes: { 'SHA-256': SHA256 } })],
  ['autonomous-system', sco('autonomous-system', { number: 64500, name: 'Example AS' })],
  ['directory', sco('directory', { path: 'C:\\Windows\\System32', contains_refs: [FILE] })],
  ['domain-name', sco('domain-name', { value: 'example.com', resolves_to_refs: [IPV4] })],
  ['email-addr', sco('email-addr', { value: 'john@example.com', display_name: 'John Doe' })],
  ['email-message', sco('email-message', {
    is_multipart: true, from_ref: EMAIL, to_refs: [EMAIL], subject: 'Hi', date: T0,
    body_multipart: [{ content_type: 'text/plain', body: 'hello' }, { content_type: 'image/png', body_raw_ref: `artifact--${uuid()}` }]
  })],
  ['file', sco('file', { name: 'foo.dll', size: 25536, hashes: { MD5: 'a92e5b2bae0b4b3a3d81c85610b95cd4', 'SHA-1': '5374e08903744ceeaedd8f5e1bfc06b2c4688e76', 'SHA-256': SHA256, SSDEEP: '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C' }, magic_number_hex: '504B0304' })],
  ['ipv4-addr', sco('ipv4-addr', { value: '198.51.100.3' })],
  ['ipv4-addr, CIDR', sco('ipv4-addr', { value: '198.51.100.0/24' })],
  ['ipv6-addr', sco('ipv6-addr', { value: '2001:0db8:85a3:0000:0000:8a2e:0370:7334' })],
  ['ipv6-addr, CIDR', sco('ipv6-addr', { value: '2001:db8::/96' })],
  ['mac-addr', sco('mac-addr', { value: 'd2:fb:49:24:37:18' })],
  ['mutex', sco('mutex', { name: '__CLEANSWEEP__' })],
  ['network-traffic', sco('network-traffic', { src_ref: IPV4, dst_ref: `domain-name--${uuid()}`, dst_port: 443, protocols: ['ipv4', 'tcp'], start: T0, end: T1 })],
  ['process', sco('process', { pid: 1221, command_line: './gedit-bin --new-window', image_ref: FILE })],
  ['software', sco('software', { name: 'Word', vendor: 'Microsoft', version: '2002' })],
  ['url', sco('url', { value: 'https://example.com/research/index.html' })],
  ['user-account', sco('user-account', { user_id: '1001', account_login: 'jdoe', is_privileged: false, account_created: T0 })],
  ['windows-registry-key', sco('windows-registry-key', { key: 'HKEY_LOCAL_MACHINE\\System\\Foo', values: [{ name: 'Foo', data: 'qwerty', data_type: 'REG_SZ' }] })],
  ['x509-certificate', sco('x509-certificate', { issuer: 'CN=Example CA', serial_number: '36:f7:d4', validity_not_before: T0, validity_not_after: T1 })],
  ['SCO without spec_version', edit(sco('ipv4-addr', { value: '198.51.100.3' }), { spec_version: undefined })],
  ['SCO with extensions', sco('file', { name: 'a.zip', extensions: { 'archive-ext': { contains_refs: [FILE] } } })],
  ['custom x- type with custom properties', sdo('x-mitre-tactic', { name: 'Collection', x_mitre_shortname: 'collection', x_mitre_domains: [] })],
  ['custom type without spec_version or timestamps (custom SCO)', { type: 'x-acme-sensor', id: `x-acme-sensor--${uuid()}`, serial: 'A1' }],
  ['custom properties on a known type', sdo('malware', { is_family: true, name: 'x', x_acme_score: 7, 'x-acme-flag': true, acme_rank: 'high' })],
  ['every common property', sdo('malware', {
    is_family: true,
    name: 'x',
    created_by_ref: IDENTITY,
    revoked: false,
    labels: ['bad'],
    confidence: 100,
    lang: 'en-US',
    external_references: [{ source_name: 'acme', url: 'https://example.com', hashes: { 'SHA-256': SHA256 } }],
    object_marking_refs: [MARKING],
    granular_markings: [{ marking_ref: MARKING, selectors: ['name'] }, { lang: 'de', selectors: ['description'] }],
    extensions: { 'x-acme-ext': { a: 1 } }
  })],
  ['timestamps with offset and many fraction digits', sdo('campaign', { name: 'x', created: '2016-04-06T22:03:48.123456+02:00', modified: '2016-04-06T20:03:48.1234567Z' })],
  ['upper-case hex in the UUID', { ...sdo('tool', { name: 'x' }), id: 'tool--81f12913-1372-4c96-85ec-E9034AC98ABA' }],
  ['UUIDv7 identifier', { ...sdo('tool', { name: 'x' }), id: 'tool--01890a5d-ac96-774b-bcce-b302099a8057' }],
  ['leap day', sdo('tool', { name: 'x', created: '2016-02-29T00:00:00Z', modified: '2016-02-29T00:00:00Z' })]
]

type Case = [label: string, input: unknown, code: ErrorCode, property: string, where?: string]

const bad = (type: string, changes: Record<string, unknown>): Record<string, unknown> => {
  const base = VALID.find(([name]) => name === type)
  if (base == null) throw new Error(`no valid fixture named ${type}`)
  return edit(base[1], changes)
}

const INVALID: Case[] = [
  // not STIX at all
  ['null', null, 'DRAGNET_NOT_STIX', 'type'],
  ['a string', 'indicator', 'DRAGNET_NOT_STIX', 'type'],
  ['an array', [], 'DRAGNET_NOT_STIX', 'type'],
  ['no type', { id: `indicator--${uuid()}` }, 'DRAGNET_NOT_STIX', 'type'],
  ['numeric type', { type: 5 }, 'DRAGNET_NOT_STIX', 'type'],

  // STIX 2.0
  ['SDO without spec_version', bad('indicator', { spec_version: undefined }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['spec_version 2.0', bad('malware family', { spec_version: '2.0' }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['SCO with spec_version 2.0', bad('ipv4-addr', { spec_version: '2.0' }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['relationship without spec_version', bad('relationship', { spec_version: undefined }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['marking-definition without spec_version', bad('marking-definition, TLP', { spec_version: undefined }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['custom object with created but no spec_version', bad('custom x- type with custom properties', { spec_version: undefined }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['spec_version 2.2', bad('tool', { spec_version: '2.2' }), 'DRAGNET_STIX_VERSION', 'spec_version'],
  ['spec_version as a number', bad('tool', { spec_version: 2.1 }), 'DRAGNET_STIX_INVALID', 'spec_version'],

  // common properties
  ['upper-case type', bad('tool', { type: 'Tool' }), 'DRAGNET_STIX_INVALID', 'type'],
  ['short type', { type: 'ab', spec_version: '2.1', id: `ab--${uuid()}` }, 'DRAGNET_STIX_INVALID', 'type'],
  ['a bundle as object', { type: 'bundle', id: `bundle--${uuid()}`, objects: [] }, 'DRAGNET_STIX_INVALID', 'type'],
  ['missing id', bad('tool', { id: undefined }), 'DRAGNET_STIX_INVALID', 'id', 'objects[3]'],
  ['id of another type', bad('tool', { id: `malware--${uuid()}` }), 'DRAGNET_STIX_INVALID', 'id'],
  ['id without UUID', bad('tool', { id: 'tool--1234' }), 'DRAGNET_STIX_INVALID', 'id'],
  ['id with a bad UUID variant', bad('tool', { id: 'tool--6f0b7cd2-31c8-4a5e-7d1f-000000000001' }), 'DRAGNET_STIX_INVALID', 'id'],
  ['missing created', bad('tool', { created: undefined }), 'DRAGNET_STIX_INVALID', 'created'],
  ['missing modified', bad('tool', { modified: undefined }), 'DRAGNET_STIX_INVALID', 'modified'],
  ['modified before created', bad('tool', { created: T1, modified: T0 }), 'DRAGNET_STIX_INVALID', 'modified'],
  ['no such month', bad('tool', { created: '2016-13-01T00:00:00Z' }), 'DRAGNET_STIX_INVALID', 'created'],
  ['no such day', bad('tool', { created: '2015-02-29T00:00:00Z' }), 'DRAGNET_STIX_INVALID', 'created'],
  ['timestamp without zone', bad('tool', { created: '2016-04-06T20:03:48' }), 'DRAGNET_STIX_INVALID', 'created'],
  ['date-only timestamp', bad('tool', { modified: '2016-04-06' }), 'DRAGNET_STIX_INVALID', 'modified'],
  ['created_by_ref to a non-identity', bad('tool', { created_by_ref: MALWARE }), 'DRAGNET_STIX_INVALID', 'created_by_ref'],
  ['revoked as a string', bad('tool', { revoked: 'yes' }), 'DRAGNET_STIX_INVALID', 'revoked'],
  ['empty labels', bad('tool', { labels: [] }), 'DRAGNET_STIX_INVALID', 'labels'],
  ['numeric label', bad('tool', { labels: ['a', 1] }), 'DRAGNET_STIX_INVALID', 'labels[1]'],
  ['confidence over 100', bad('tool', { confidence: 101 }), 'DRAGNET_STIX_INVALID', 'confidence'],
  ['fractional confidence', bad('tool', { confidence: 50.5 }), 'DRAGNET_STIX_INVALID', 'confidence'],
  ['bad lang', bad('tool', { lang: 'en_US' }), 'DRAGNET_STIX_INVALID', 'lang'],
  ['external reference without source_name', bad('tool', { external_references: [{ url: 'https://example.com' }] }), 'DRAGNET_STIX_INVALID', 'external_references[0].source_name'],
  ['external reference with nothing but source_name', bad('tool', { external_references: [{ source_name: 'x', external_id: 'a' }, { source_name: 'y' }] }), 'DRAGNET_STIX_INVALID', 'external_references[1]'],
  ['external reference with a short SHA-256', bad('tool', { external_references: [{ source_name: 'x', url: 'https://example.com', hashes: { 'SHA-256': 'abcd' } }] }), 'DRAGNET_STIX_INVALID', 'external_references[0].hashes.SHA-256'],
  ['object_marking_refs to an identity', bad('tool', { object_marking_refs: [IDENTITY] }), 'DRAGNET_STIX_INVALID', 'object_marking_refs[0]'],
  ['granular marking without marking_ref or lang', bad('tool', { granular_markings: [{ selectors: ['name'] }] }), 'DRAGNET_STIX_INVALID', 'granular_markings[0]'],
  ['granular marking with empty selectors', bad('tool', { granular_markings: [{ marking_ref: MARKING, selectors: [] }] }), 'DRAGNET_STIX_INVALID', 'granular_markings[0].selectors'],
  ['extensions as a string', bad('tool', { extensions: 'x' }), 'DRAGNET_STIX_INVALID', 'extensions'],
  ['extension with a malformed definition id', bad('tool', { extensions: { 'extension-definition--nope': {} } }), 'DRAGNET_STIX_INVALID', 'extensions.extension-definition--nope'],
  ['null property', bad('tool', { description: null }), 'DRAGNET_STIX_INVALID', 'description'],
  ['null custom property', bad('tool', { x_acme: null }), 'DRAGNET_STIX_INVALID', 'x_acme'],
  ['property name with a space', bad('tool', { 'bad name': 1 }), 'DRAGNET_STIX_INVALID', 'bad name'],
  ['two-letter property name', bad('tool', { ab: 1 }), 'DRAGNET_STIX_INVALID', 'ab'],

  // SDOs
  ['attack-pattern without name', bad('attack-pattern', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],
  ['kill chain phase without phase_name', bad('attack-pattern', { kill_chain_phases: [{ kill_chain_name: 'x' }] }), 'DRAGNET_STIX_INVALID', 'kill_chain_phases[0].phase_name'],
  ['campaign last_seen before first_seen', bad('campaign', { first_seen: T1, last_seen: T0 }), 'DRAGNET_STIX_INVALID', 'last_seen'],
  ['grouping without context', bad('grouping', { context: undefined }), 'DRAGNET_STIX_INVALID', 'context'],
  ['grouping with a bad object ref', bad('grouping', { object_refs: ['nope'] }), 'DRAGNET_STIX_INVALID', 'object_refs[0]'],
  ['identity with empty name', bad('identity', { name: '' }), 'DRAGNET_STIX_INVALID', 'name'],
  ['indicator without pattern', bad('indicator', { pattern: undefined }), 'DRAGNET_STIX_INVALID', 'pattern'],
  ['indicator without pattern_type', bad('indicator', { pattern_type: undefined }), 'DRAGNET_STIX_INVALID', 'pattern_type'],
  ['indicator without valid_from', bad('indicator', { valid_from: undefined }), 'DRAGNET_STIX_INVALID', 'valid_from'],
  ['indicator valid_until equal to valid_from', bad('indicator', { valid_until: T0 }), 'DRAGNET_STIX_INVALID', 'valid_until'],
  ['indicator with an empty sigma pattern', bad('indicator, sigma pattern', { pattern: '' }), 'DRAGNET_STIX_INVALID', 'pattern'],
  ['indicator with pattern_type STIX', bad('indicator', { pattern_type: 'STIX' }), 'DRAGNET_STIX_INVALID', 'pattern_type'],
  ['indicator with a broken pattern', bad('indicator', { pattern: "[ipv4-addr:value = '198.51.100.7'" }), 'DRAGNET_BAD_PATTERN', 'pattern'],
  ['indicator with an unquoted value', bad('indicator', { pattern: '[ipv4-addr:value = 198.51.100.7]' }), 'DRAGNET_BAD_PATTERN', 'pattern'],
  ['location with nothing to locate', bad('location, by region', { region: undefined, name: 'somewhere' }), 'DRAGNET_STIX_INVALID', 'region'],
  ['latitude out of range', bad('location, by coordinates', { latitude: 91 }), 'DRAGNET_STIX_INVALID', 'latitude'],
  ['latitude without longitude', bad('location, by coordinates', { longitude: undefined, precision: undefined }), 'DRAGNET_STIX_INVALID', 'longitude'],
  ['precision without coordinates', bad('location, by region', { precision: 10 }), 'DRAGNET_STIX_INVALID', 'precision'],
  ['malware without is_family', bad('malware family', { is_family: undefined }), 'DRAGNET_STIX_INVALID', 'is_family'],
  ['malware family without name', bad('malware family', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],
  ['malware sample_refs to an indicator', bad('malware instance without name', { sample_refs: [`indicator--${uuid()}`] }), 'DRAGNET_STIX_INVALID', 'sample_refs[0]'],
  ['malware-analysis without result or analysis_sco_refs', bad('malware-analysis', { result: undefined }), 'DRAGNET_STIX_INVALID', 'result'],
  ['malware-analysis without product', bad('malware-analysis', { product: undefined }), 'DRAGNET_STIX_INVALID', 'product'],
  ['note without content', bad('note', { content: undefined }), 'DRAGNET_STIX_INVALID', 'content'],
  ['observed-data with number_observed 0', bad('observed-data', { number_observed: 0 }), 'DRAGNET_STIX_INVALID', 'number_observed'],
  ['observed-data without objects or object_refs', bad('observed-data', { object_refs: undefined }), 'DRAGNET_STIX_INVALID', 'object_refs'],
  ['observed-data with objects and object_refs', bad('observed-data', { objects: { 0: { type: 'ipv4-addr', value: '198.51.100.3' } } }), 'DRAGNET_STIX_INVALID', 'objects'],
  ['observed-data with empty objects', bad('observed-data, deprecated objects', { objects: {} }), 'DRAGNET_STIX_INVALID', 'objects'],
  ['observed-data with a typeless embedded object', bad('observed-data, deprecated objects', { objects: { 0: { value: 'x' } } }), 'DRAGNET_STIX_INVALID', 'objects.0.type'],
  ['observed-data last_observed before first_observed', bad('observed-data', { first_observed: T1, last_observed: T0 }), 'DRAGNET_STIX_INVALID', 'last_observed'],
  ['opinion with an unknown value', bad('opinion', { opinion: 'maybe' }), 'DRAGNET_STIX_INVALID', 'opinion'],
  ['report without published', bad('report', { published: undefined }), 'DRAGNET_STIX_INVALID', 'published'],
  ['report with empty object_refs', bad('report', { object_refs: [] }), 'DRAGNET_STIX_INVALID', 'object_refs'],
  ['report without name', bad('report', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],
  ['threat-actor with numeric name', bad('threat-actor', { name: 7 }), 'DRAGNET_STIX_INVALID', 'name'],
  ['tool aliases not a list', bad('tool', { aliases: 'mimi' }), 'DRAGNET_STIX_INVALID', 'aliases'],
  ['vulnerability without name', bad('vulnerability', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],

  // SROs
  ['relationship_type with capitals', bad('relationship', { relationship_type: 'Indicates' }), 'DRAGNET_STIX_INVALID', 'relationship_type'],
  ['relationship without target_ref', bad('relationship', { target_ref: undefined }), 'DRAGNET_STIX_INVALID', 'target_ref'],
  ['relationship source_ref not an identifier', bad('relationship', { source_ref: 'indicator' }), 'DRAGNET_STIX_INVALID', 'source_ref'],
  ['relationship to a relationship', bad('relationship', { target_ref: `relationship--${uuid()}` }), 'DRAGNET_STIX_INVALID', 'target_ref'],
  ['relationship stop_time before start_time', bad('relationship', { start_time: T1, stop_time: T0 }), 'DRAGNET_STIX_INVALID', 'stop_time'],
  ['sighting without sighting_of_ref', bad('sighting', { sighting_of_ref: undefined }), 'DRAGNET_STIX_INVALID', 'sighting_of_ref'],
  ['sighting with negative count', bad('sighting', { count: -1 }), 'DRAGNET_STIX_INVALID', 'count'],
  ['sighting where_sighted_refs to malware', bad('sighting', { where_sighted_refs: [IDENTITY, MALWARE] }), 'DRAGNET_STIX_INVALID', 'where_sighted_refs[1]'],
  ['sighting observed_data_refs to an indicator', bad('sighting', { observed_data_refs: [`indicator--${uuid()}`] }), 'DRAGNET_STIX_INVALID', 'observed_data_refs[0]'],
  ['sighting last_seen before first_seen', bad('sighting', { first_seen: T1, last_seen: T0 }), 'DRAGNET_STIX_INVALID', 'last_seen'],

  // meta objects
  ['TLP marking with an unknown colour', bad('marking-definition, TLP', { definition: { tlp: 'purple' } }), 'DRAGNET_STIX_INVALID', 'definition.tlp'],
  ['marking without definition or extension', bad('marking-definition, statement (no modified)', { definition: undefined, definition_type: undefined }), 'DRAGNET_STIX_INVALID', 'definition_type'],
  ['marking without created', bad('marking-definition, TLP', { created: undefined }), 'DRAGNET_STIX_INVALID', 'created'],
  ['language-content without contents', bad('language-content', { contents: undefined }), 'DRAGNET_STIX_INVALID', 'contents'],
  ['language-content with a string translation', bad('language-content', { contents: { de: 'Schadsoftware' } }), 'DRAGNET_STIX_INVALID', 'contents.de'],
  ['extension-definition without created_by_ref', bad('extension-definition', { created_by_ref: undefined }), 'DRAGNET_STIX_INVALID', 'created_by_ref'],
  ['extension-definition with an unknown extension type', bad('extension-definition', { extension_types: ['new-thing'] }), 'DRAGNET_STIX_INVALID', 'extension_types[0]'],

  // SCOs
  ['artifact with bad base64', bad('artifact, payload', { payload_bin: 'aGVsbG8gd29ybGQ= ...' }), 'DRAGNET_STIX_INVALID', 'payload_bin'],
  ['artifact with unpadded base64', bad('artifact, payload', { payload_bin: 'aGVsbG8' }), 'DRAGNET_STIX_INVALID', 'payload_bin'],
  ['artifact with payload_bin and url', bad('artifact, payload', { url: 'https://example.com/a', hashes: { 'SHA-256': SHA256 } }), 'DRAGNET_STIX_INVALID', 'payload_bin'],
  ['artifact with neither payload_bin nor url', bad('artifact, payload', { payload_bin: undefined }), 'DRAGNET_STIX_INVALID', 'payload_bin'],
  ['artifact by url without hashes', bad('artifact, by url', { hashes: undefined }), 'DRAGNET_STIX_INVALID', 'hashes'],
  ['autonomous-system number as string', bad('autonomous-system', { number: '64500' }), 'DRAGNET_STIX_INVALID', 'number'],
  ['directory without path', bad('directory', { path: undefined }), 'DRAGNET_STIX_INVALID', 'path'],
  ['domain-name without value', bad('domain-name', { value: undefined }), 'DRAGNET_STIX_INVALID', 'value'],
  ['domain-name resolving to a URL', bad('domain-name', { resolves_to_refs: [`url--${uuid()}`] }), 'DRAGNET_STIX_INVALID', 'resolves_to_refs[0]'],
  ['email-addr without @', bad('email-addr', { value: 'john.example.com' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['email-message without is_multipart', bad('email-message', { is_multipart: undefined }), 'DRAGNET_STIX_INVALID', 'is_multipart'],
  ['single-part email with body_multipart', bad('email-message', { is_multipart: false }), 'DRAGNET_STIX_INVALID', 'body_multipart'],
  ['mime part with body and body_raw_ref', bad('email-message', { body_multipart: [{ body: 'a', body_raw_ref: `artifact--${uuid()}` }] }), 'DRAGNET_STIX_INVALID', 'body_multipart[0]'],
  ['email from an IP', bad('email-message', { from_ref: IPV4 }), 'DRAGNET_STIX_INVALID', 'from_ref'],
  ['file with neither hashes nor name', bad('file', { name: undefined, hashes: undefined }), 'DRAGNET_STIX_INVALID', 'hashes'],
  ['file MD5 of the wrong length', bad('file', { hashes: { MD5: 'a92e5b2bae0b4b3a3d81c85610b95cd' } }), 'DRAGNET_STIX_INVALID', 'hashes.MD5'],
  ['file SHA-256 not hex', bad('file', { hashes: { 'SHA-256': 'z'.repeat(64) } }), 'DRAGNET_STIX_INVALID', 'hashes.SHA-256'],
  ['file sha1 (any spelling) checked', bad('file', { hashes: { sha1: 'abc' } }), 'DRAGNET_STIX_INVALID', 'hashes.sha1'],
  ['file with empty hashes', bad('file', { hashes: {} }), 'DRAGNET_STIX_INVALID', 'hashes'],
  ['file with negative size', bad('file', { size: -1 }), 'DRAGNET_STIX_INVALID', 'size'],
  ['file with odd magic number', bad('file', { magic_number_hex: 'ABC' }), 'DRAGNET_STIX_INVALID', 'magic_number_hex'],
  ['file in a file', bad('file', { parent_directory_ref: FILE }), 'DRAGNET_STIX_INVALID', 'parent_directory_ref'],
  ['ipv4-addr out of range', bad('ipv4-addr', { value: '198.51.100.300' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['ipv4-addr with IPv6 value', bad('ipv4-addr', { value: '2001:db8::1' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['ipv4-addr with prefix 33', bad('ipv4-addr', { value: '198.51.100.0/33' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['ipv6-addr with IPv4 value', bad('ipv6-addr', { value: '198.51.100.3' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['mac-addr in upper case', bad('mac-addr', { value: 'D2:FB:49:24:37:18' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['mutex without name', bad('mutex', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],
  ['network-traffic without protocols', bad('network-traffic', { protocols: undefined }), 'DRAGNET_STIX_INVALID', 'protocols'],
  ['network-traffic without ends', bad('network-traffic', { src_ref: undefined, dst_ref: undefined }), 'DRAGNET_STIX_INVALID', 'src_ref'],
  ['network-traffic port 70000', bad('network-traffic', { dst_port: 70000 }), 'DRAGNET_STIX_INVALID', 'dst_port'],
  ['active network-traffic with an end', bad('network-traffic', { is_active: true }), 'DRAGNET_STIX_INVALID', 'end'],
  ['network-traffic to a file', bad('network-traffic', { dst_ref: FILE }), 'DRAGNET_STIX_INVALID', 'dst_ref'],
  ['empty process', sco('process'), 'DRAGNET_STIX_INVALID', 'type'],
  ['software without name', bad('software', { name: undefined }), 'DRAGNET_STIX_INVALID', 'name'],
  ['url with empty value', bad('url', { value: '' }), 'DRAGNET_STIX_INVALID', 'value'],
  ['user-account is_privileged as string', bad('user-account', { is_privileged: 'no' }), 'DRAGNET_STIX_INVALID', 'is_privileged'],
  ['registry value with numeric name', bad('windows-registry-key', { values: [{ name: 5 }] }), 'DRAGNET_STIX_INVALID', 'values[0].name'],
  ['x509 with bad validity timestamp', bad('x509-certificate', { validity_not_before: 'yesterday' }), 'DRAGNET_STIX_INVALID', 'validity_not_before'],
  ['empty x509-certificate', sco('x509-certificate'), 'DRAGNET_STIX_INVALID', 'type']
]

describe('stix validation', () => {
  describe('accepts valid objects', () => {
    for (const [label, obj] of VALID) {
      it(label, () => {
        assert.equal(validateStixObject(obj), obj)
      })
    }
  })

  describe('rejects invalid objects, naming the object and the property', () => {
    for (const [label, input, code, property, where] of INVALID) {
      it(`${label} → ${code} ${property}`, () => {
        const got = outcome(() => validateStixObject(input, where))
        const id = typeof (input as { id?: unknown } | null)?.id === 'string' ? (input as { id: string }).id : undefined
        const object = id ?? where ?? '(object)'
        assert.deepEqual({ code: got.code, object: got.object, property: got.property }, { code, object, property }, got.message)
        assert.ok(got.message!.includes(object), `message names the object: ${got.message}`)
        assert.ok(got.message!.includes(property), `message names the property: ${got.message}`)
      })
    }
  })

  it('says plainly that STIX 2.0 is not accepted and 2.1 is required', () => {
    for (const obj of [bad('indicator', { spec_version: undefined }), bad('tool', { spec_version: '2.0' })]) {
      const got = outcome(() => validateStixObject(obj))
      assert.equal(got.code, 'DRAGNET_STIX_VERSION')
      assert.match(got.message!, /STIX 2\.0 .*not accepted/)
      assert.match(got.message!, /requires STIX 2\.1/)
    }
  })

  it('names an object without id by where it was found', () => {
    const got = outcome(() => validateStixObject(bad('tool', { id: undefined, name: undefined }), 'objects[7]'))
    assert.equal(got.object, 'objects[7]')
  })

  it('reports the line and column of a pattern error', () => {
    try {
      validateStixObject(bad('indicator', { pattern: "[ipv4-addr:value = '198.51.100.7'] AND\n[domain-name:value ~ 'x']" }))
      assert.fail('accepted a broken pattern')
    } catch (err: any) {
      assert.equal(err.code, 'DRAGNET_BAD_PATTERN')
      assert.equal(err.details.line, 2)
      assert.equal(err.details.column, 20)
      assert.match(err.message, /line 2, column 20/)
    }
  })

  it('treats a huge pattern nesting as a bad pattern, not a crash', () => {
    const deep = '('.repeat(20000) + "[a:b = 'c']" + ')'.repeat(20000)
    assert.equal(outcome(() => validateStixObject(bad('indicator', { pattern: deep }))).code, 'DRAGNET_BAD_PATTERN')
  })
})

describe('identifierType', () => {
  const table: Array<[unknown, string | null]> = [
    ['indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'indicator'],
    ['x-mitre-tactic--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'x-mitre-tactic'],
    ['file--1190f2c9-166f-55f1-9706-eea3971d8082', 'file'],
    ['indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f', null],
    ['indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f', null],
    ['indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', null],
    ['Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', null],
    ['a--b--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', null],
    ['--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', null],
    [42, null]
  ]
  for (const [id, want] of table) it(`${String(id)} → ${want}`, () => assert.equal(identifierType(id), want))
})

describe('parseStixTimestamp', () => {
  const table: Array<[string, number | null]> = [
    ['2016-04-06T20:03:48.000Z', Date.UTC(2016, 3, 6, 20, 3, 48)],
    ['2016-04-06T20:03:48Z', Date.UTC(2016, 3, 6, 20, 3, 48)],
    ['2016-04-06T20:03:48.5Z', Date.UTC(2016, 3, 6, 20, 3, 48, 500)],
    ['2016-04-06T22:03:48+02:00', Date.UTC(2016, 3, 6, 20, 3, 48)],
    ['2016-04-06T18:33:48-01:30', Date.UTC(2016, 3, 6, 20, 3, 48)],
    ['0099-12-31T23:59:59Z', Date.parse('0099-12-31T23:59:59Z')],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['1900-02-29T00:00:00Z', null],
    ['2016-04-31T00:00:00Z', null],
    ['2016-04-06T24:00:00Z', null],
    ['2016-04-06T20:60:00Z', null],
    ['2016-04-06T20:03:48.Z', null],
    ['2016-04-06t20:03:48Z', null],
    ['2016-04-06T20:03:48z', null],
    ['2016-04-06T20:03:48+0200', null],
    ['2016-04-06T20:03:48+24:00', null],
    ['2016-04-06 20:03:48Z', null],
    ['', null]
  ]
  for (const [text, want] of table) {
    it(`${text === '' ? '(empty)' : text} → ${want}`, () => assert.equal(parseStixTimestamp(text), want))
  }

  it('agrees with Date for every ISO instant (property)', () => {
    fc.assert(fc.property(fc.date({ min: new Date(Date.UTC(1, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }), d => {
      return parseStixTimestamp(d.toISOString()) === d.getTime()
    }))
  })

  it('keeps digits beyond the millisecond for ordering', () => {
    assert.ok(parseStixTimestamp('2016-04-06T20:03:48.0001Z')! > parseStixTimestamp('2016-04-06T20:03:48Z')!)
  })
})

describe('stixObjectsFromInput', () => {
  const tool = VALID.find(([n]) => n === 'tool')![1]
  it('accepts one object, an array, and a bundle', () => {
    assert.deepEqual(stixObjectsFromInput(tool), [tool])
    assert.deepEqual(stixObjectsFromInput([tool, tool]), [tool, tool])
    assert.deepEqual(stixObjectsFromInput({ type: 'bundle', id: `bundle--${uuid()}`, objects: [tool] }), [tool])
    assert.deepEqual(stixObjectsFromInput({ type: 'bundle', id: `bundle--${uuid()}` }), [])
  })

  const cases: Array<[string, unknown, ErrorCode, string]> = [
    ['a STIX 2.0 bundle', { type: 'bundle', id: `bundle--${uuid()}`, spec_version: '2.0', objects: [tool] }, 'DRAGNET_STIX_VERSION', 'spec_version'],
    ['a bundle with objects not a list', { type: 'bundle', id: `bundle--${uuid()}`, objects: {} }, 'DRAGNET_NOT_STIX', 'objects'],
    ['null', null, 'DRAGNET_NOT_STIX', 'type'],
    ['a number', 42, 'DRAGNET_NOT_STIX', 'type'],
    ['an object without type', { objects: [] }, 'DRAGNET_NOT_STIX', 'type'],
    ['a MISP event', { Event: { info: 'x' } }, 'DRAGNET_NOT_STIX', 'type']
  ]
  for (const [label, input, code, property] of cases) {
    it(`rejects ${label}`, () => {
      const got = outcome(() => stixObjectsFromInput(input))
      assert.equal(got.code, code)
      assert.equal(got.property, property)
      assert.ok(got.object != null)
    })
  }

  it('says STIX 2.0 bundles are not accepted', () => {
    const got = outcome(() => stixObjectsFromInput({ type: 'bundle', id: `bundle--${uuid()}`, spec_version: '2.0', objects: [] }))
    assert.match(got.message!, /STIX 2\.0 .*not accepted.*STIX 2\.1/)
  })
})
