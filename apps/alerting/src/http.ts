import { ProblemException } from '@tidemark/runtime';
import { AlertingError, statusOf } from './alerting.errors';

/** Runs a service call, turning an AlertingError into its problem answer. */
export async function http<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AlertingError) throw new ProblemException(statusOf(e.code), e.message, { errors: e.errors });
    throw e;
  }
}
