import t from 'tap';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordFile, shapes, writeRecordFile } from '../../src/fs/files.js';
import { tempDir } from '../helpers/cleanup.js';

t.test('record files: written whole, read back with their version checked', async (t) => {
  const dir = tempDir(t, 'files');
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

t.test('a record that is not an object, or that its check finds wrong, is an error naming the file and the field', async (t) => {
  const dir = tempDir(t, 'files');
  const file = join(dir, 'r.json');
  writeFileSync(file, 'null');
  t.throws(() => readRecordFile(file, 1, 'pod record'), { message: `${file}: unreadable pod record: not an object` });
  writeFileSync(file, '[1]');
  t.throws(() => readRecordFile(file, 1, 'pod record'), { message: `${file}: unreadable pod record: not an object` });
  const check = (r: Record<string, unknown>) =>
    shapes.object({ name: shapes.string, items: shapes.list(shapes.object({ n: shapes.count })), when: shapes.optional(shapes.string) })(
      r,
      '',
    );
  writeRecordFile(file, `${file}.tmp`, { version: 1, name: 'a', items: [{ n: 1 }, { n: -1 }] });
  t.throws(() => readRecordFile(file, 1, 'pod record', check), {
    message: `${file}: damaged pod record: items[1].n is not a whole number`,
  });
  writeRecordFile(file, `${file}.tmp`, { version: 1, name: 'a', items: [], when: 3 });
  t.throws(() => readRecordFile(file, 1, 'pod record', check), { message: `${file}: damaged pod record: when is not a string` });
  writeRecordFile(file, `${file}.tmp`, { version: 1, name: 'a', items: [{ n: 0 }] });
  t.same(readRecordFile(file, 1, 'pod record', check), { version: 1, name: 'a', items: [{ n: 0 }] }, 'a sound one is read');
});
