import { HttpException } from '@nestjs/common';
import { AlertingError, errorBody, statusOf } from './alerting.errors';

/** Runs a service call, turning an AlertingError into its HTTP answer. */
export async function http<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AlertingError) throw new HttpException(errorBody(e), statusOf(e.code));
    throw e;
  }
}
