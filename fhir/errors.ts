/**
 * What the FHIR mapping throws for a reading it cannot express in FHIR: `reason` is stable and
 * machine-readable (e.g. "fhir.time-out-of-range"), the message names the reading and the field.
 */
export class FhirMappingError extends Error {
  constructor(readonly reason: string, message: string) {
    super(`${reason}: ${message}`);
    this.name = 'FhirMappingError';
  }
}
