/** The `kind` strings of the sharing scheme's key files (common/key-file.ts), shared by every party. */
export const PATIENT_TAG_KEY_KIND = 'mcps/patient-tag';
export const OWNER_KEY_KIND = 'mcps/owner-x25519';
export const USER_BLS_KEY_KIND = 'mcps/user-bls';
export const USER_ENCRYPTION_KEY_KIND = 'mcps/user-x25519';
