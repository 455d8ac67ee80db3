import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecordFile, writeRecordFile } from '../../src/fs/files.js';

t.test('record files: written whole, read back with their version checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tspod-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pod.json');
  t.equal(readRecordFile(file, 1, 'state'), undefined, 'no file: no record');
  writeRecordFile(file, `${file}.tmp`, { version: 1, name: 'a' });
  t.same(readRecordFile(file, 1, 'state'), { version: 1, name: 'a' });
  t.same(readdirSync(dir), ['pod.json'], 'the temporary file was renamed, not left');
  t.throws(() => readRecordFile(file, 2, 'state'), { name: 'TspodError', message: `${file}: state version 1, this tspod reads 2` });
  writeFileSync(file, '{"version": 1,');
  t.throws(() => readRecordFile(file, 1, 'image record'), {
    name: 'TspodError',
    message: new RegExp(`^${file}: unreadable image record: `),
  });
});
