import { Global, Module } from '@nestjs/common';
import { loadConfig } from './config';

/** Injection token for the validated TidemarkConfig. */
export const CONFIG = Symbol('TIDEMARK_CONFIG');

@Global()
@Module({
  providers: [{ provide: CONFIG, useFactory: () => loadConfig() }],
  exports: [CONFIG],
})
export class ConfigModule {}
