/** Injection token for the compiled metric definitions (defaults plus METRICS_FILE). */
export const METRICS = Symbol('TIDEMARK_METRICS');
