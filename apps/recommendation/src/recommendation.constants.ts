/** Injection token for the service's RecStore (Redis). */
export const REC_STORE = Symbol('TIDEMARK_REC_STORE');
