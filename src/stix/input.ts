import { DragnetError } from '../errors.js'

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}

/**
 * The objects in a STIX input: one object, a bare array of objects, or a bundle. Only the
 * container is checked here; each object still goes through validateStixObject.
 */
export function stixObjectsFromInput (input: unknown): unknown[] {
  if (Array.isArray(input)) return input
  if (typeof input !== 'object' || input === null) {
    throw new DragnetError('DRAGNET_NOT_STIX', `input: not STIX (expected an object, an array of objects or a bundle, got ${describe(input)})`, { object: 'input', property: 'type' })
  }
  const obj = input as Record<string, unknown>
  if (typeof obj.type !== 'string') {
    throw new DragnetError('DRAGNET_NOT_STIX', 'input: not STIX (the object has no string property type)', { object: 'input', property: 'type' })
  }
  if (obj.type !== 'bundle') return [input]

  const object = typeof obj.id === 'string' ? obj.id : 'bundle'
  // STIX 2.0 bundles carry spec_version; 2.1 bundles have none (their objects carry it).
  if (obj.spec_version === '2.0') {
    throw new DragnetError('DRAGNET_STIX_VERSION', `${object}: property spec_version is "2.0": STIX 2.0 bundles are not accepted, dragnet requires STIX 2.1`, { object, property: 'spec_version' })
  }
  if (obj.objects === undefined) return []
  if (!Array.isArray(obj.objects)) {
    throw new DragnetError('DRAGNET_NOT_STIX', `${object}: property objects of a bundle must be an array, not ${describe(obj.objects)}`, { object, property: 'objects' })
  }
  return obj.objects
}
