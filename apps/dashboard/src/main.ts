import { startService } from '@tidemark/runtime';
import { DashboardModule } from './dashboard.module';

/** The live page (`GET /`) and its SSE feed (`GET /v1/stream`), assembled from the other services' HTTP APIs. */
export function bootstrap() {
  return startService({
    name: 'dashboard',
    module: DashboardModule,
    port: (c) => c.ports.dashboard,
  });
}

if (require.main === module) void bootstrap();
