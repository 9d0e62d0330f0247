import { Global, Module } from '@nestjs/common';
import { ApiKeyRing } from '@tidemark/auth';
import { loadConfig, TidemarkConfig } from './config';

/** Injection token for the validated TidemarkConfig. */
export const CONFIG = Symbol('TIDEMARK_CONFIG');
/** Injection token for the ApiKeyRing built from the config's API keys (@tidemark/auth). */
export const API_KEY_RING = Symbol('TIDEMARK_API_KEY_RING');

@Global()
@Module({
  providers: [
    { provide: CONFIG, useFactory: () => loadConfig() },
    { provide: API_KEY_RING, inject: [CONFIG], useFactory: (c: TidemarkConfig) => new ApiKeyRing(c.auth.keys) },
  ],
  exports: [CONFIG, API_KEY_RING],
})
export class ConfigModule {}
