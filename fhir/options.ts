/** The identifier systems a deployment names its patients, devices and readings under. */
export interface FhirIdentityOptions {
  /** Identifier system of the patient pseudonyms (Observation.subject.identifier.system). */
  readonly patientSystem?: string;
  /** Identifier system of device ids (Device.identifier.system). */
  readonly deviceSystem?: string;
}

export const DEFAULT_PATIENT_SYSTEM = 'urn:mcps-edge:patient-pseudonym';
export const DEFAULT_DEVICE_SYSTEM = 'urn:mcps-edge:device';

export interface ResolvedIdentity {
  readonly patientSystem: string;
  readonly deviceSystem: string;
  /** Identifier system of the readings themselves: the device system with ":reading" appended. */
  readonly readingSystem: string;
}

export function resolveIdentity(o: FhirIdentityOptions = {}): ResolvedIdentity {
  const deviceSystem = o.deviceSystem ?? DEFAULT_DEVICE_SYSTEM;
  return { patientSystem: o.patientSystem ?? DEFAULT_PATIENT_SYSTEM, deviceSystem, readingSystem: `${deviceSystem}:reading` };
}
