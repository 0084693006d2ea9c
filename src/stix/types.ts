/** A STIX 2.1 object as it travels inside a record body (plain JSON). */
export interface StixObject {
  type: string
  id: string
  spec_version?: string
  created?: string
  modified?: string
  [property: string]: unknown
}

/**
 * Observable kinds dragnet indexes for lookup and matches against warninglists.
 * Values are normalised (see `normalizeObservable`): lower-case domains, hashes and emails,
 * canonical IP text, CIDRs with the host bits cleared.
 */
export type ObservableKind =
  | 'ipv4' | 'ipv6' | 'ipv4-cidr' | 'ipv6-cidr'
  | 'domain' | 'url' | 'email'
  | 'md5' | 'sha1' | 'sha256'

export interface Observable {
  kind: ObservableKind
  value: string
}
