import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { acceptRequestId, problem, problemFromResponse, problemKind, problemTypes } from './problem';
import { ProblemException, problemOf } from './problem.filter';

describe('problem details', () => {
  it('has a type and title per status, the detail twice (error for compatibility) and extensions', () => {
    expect(problem(400, 'k must be a number', { errors: [{ field: 'k', reason: 'must be a number' }], accepted: 0 })).toEqual({
      type: 'urn:tidemark:problem:invalid-request',
      title: 'Invalid request',
      status: 400,
      detail: 'k must be a number',
      error: 'k must be a number',
      errors: [{ field: 'k', reason: 'must be a number' }],
      accepted: 0,
    });
    expect(problemKind(413).type).toBe('urn:tidemark:problem:too-large');
    expect(problemKind(418)).toEqual({ type: 'urn:tidemark:problem:http-418', title: 'Client error' });
    expect(problemTypes().map((t) => t.status)).toEqual(expect.arrayContaining([400, 401, 403, 404, 413, 429, 500, 503]));
  });

  it('never lets an extension replace a standard member, and drops an empty errors list', () => {
    expect(problem(404, 'gone', { status: 200, type: 'x', detail: 'y', errors: [] })).toEqual(problem(404, 'gone'));
  });

  it("reads Nest's bodies, plain strings and our own", () => {
    expect(problemFromResponse(404, { statusCode: 404, message: 'Cannot GET /x', error: 'Not Found' })).toMatchObject({ status: 404, detail: 'Cannot GET /x', error: 'Cannot GET /x' });
    expect(problemFromResponse(400, { message: ['a is bad', 'b is bad'] }).detail).toBe('a is bad; b is bad');
    expect(problemFromResponse(400, 'plain')).toMatchObject({ detail: 'plain' });
    expect(problemFromResponse(409, { error: 'exists', errors: [{ field: 'id', reason: 'exists' }] })).toMatchObject({ detail: 'exists', errors: [{ field: 'id', reason: 'exists' }] });
    expect(problemFromResponse(500, null).detail).toBe('Internal error');
  });

  it('maps exceptions: HTTP ones as they are, Fastify errors by their status, anything else to a bare 500', () => {
    expect(problemOf(new ProblemException(413, 'too big', { accepted: 0 }))).toEqual({ problem: problem(413, 'too big', { accepted: 0 }), unexpected: false });
    expect(problemOf(new NotFoundException('Cannot GET /nope')).problem).toMatchObject({ status: 404, detail: 'Cannot GET /nope' });
    expect(problemOf(new BadRequestException()).problem.status).toBe(400);
    expect(problemOf(new HttpException('x', 503)).problem).toMatchObject({ status: 503, type: 'urn:tidemark:problem:unavailable' });
    expect(problemOf(Object.assign(new Error('Request body is too large'), { statusCode: 413 }))).toMatchObject({ problem: { status: 413 }, unexpected: false });
    expect(problemOf(new Error('secret stack detail'))).toEqual({ problem: problem(500, 'internal error'), unexpected: true });
  });

  it('keeps a well-formed request id only', () => {
    expect(acceptRequestId('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    for (const bad of ['', 'a b', 'x'.repeat(129), 'évil', 'a\nb', undefined, ['a']]) expect(acceptRequestId(bad)).toBeUndefined();
  });
});
