import { startService } from '@tidemark/runtime';
import { DashboardModule } from './dashboard.module';

/** The live page for the shop's operators (DASHBOARD_PORT, 8090), fed over server-sent events. */
export function bootstrap() {
  return startService({ name: 'dashboard', module: DashboardModule, port: (c) => c.ports.dashboard });
}

if (require.main === module) void bootstrap();
