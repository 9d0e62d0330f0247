/** Dedup has no HTTP API of its own: its document lists the operations routes every service has. */
import type { ApiInfo, ApiOperation } from '@tidemark/runtime';

export const DEDUP_API: ApiInfo = { title: 'Tidemark dedup', version: '1', description: 'Consumes events.raw, publishes events.clean (docs/architecture.md); HTTP only for operations.' };
export const DEDUP_OPERATIONS: ApiOperation[] = [];
