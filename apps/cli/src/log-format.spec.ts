import { formatLogLine, resolveLogFormat } from './log-format';

describe('log format of tidemark up', () => {
  it('is pretty on a terminal and JSON elsewhere, unless told', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('turns a JSON record into one readable line', () => {
    const line = JSON.stringify({ time: '2026-11-30T05:50:01.123Z', level: 'warn', service: 'dedup', context: 'NATS', msg: 'NATS disconnected', server: '127.0.0.1:4222', attempt: 3 });
    expect(formatLogLine(line, 'pretty')).toBe('05:50:01 WARN  [NATS] NATS disconnected  server=127.0.0.1:4222 attempt=3');
    expect(formatLogLine(line, 'json')).toBe(line);
  });

  it('quotes values with spaces, shows an error stack, and passes other lines through', () => {
    const line = JSON.stringify({ time: '2026-11-30T05:50:01Z', level: 'error', service: 'x', msg: 'boom', reason: 'two words', stack: 'Error: boom\n    at f' });
    expect(formatLogLine(line, 'pretty')).toBe('05:50:01 ERROR boom  reason="two words"\nError: boom\n    at f');
    expect(formatLogLine('tidemark: plain text', 'pretty')).toBe('tidemark: plain text');
    expect(formatLogLine('[1,2]', 'pretty')).toBe('[1,2]');
    expect(formatLogLine('{"no":"level"}', 'pretty')).toBe('{"no":"level"}');
  });
});
