export { Authenticator } from './authenticator.js';
export { DEV_PRINCIPAL_NAME, type Principal, PrincipalStore } from './principals.js';
