// The tar reader on archives written by the test's own writer and by hand: ustar prefix,
// pax and GNU long names, pax xattrs, checksums, truncation, and reading a file by offset.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { indexTarFile, parsePax, tarMembers, type TarEntry } from '../../src/image/tar.js';
import { memberComponents } from '../../src/image/unpack.js';
import { writeTar, type Member } from '../helpers/image-builder.js';
import { tempDir } from '../helpers/cleanup.js';

/** Every member, with its data, reading the tar in chunks of `chunk` bytes. */
async function read(tar: Buffer, chunk = 700): Promise<{ entry: TarEntry; data: string }[]> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(tar.subarray(i, i + chunk));
  const out: { entry: TarEntry; data: string }[] = [];
  for await (const m of tarMembers(Readable.from(chunks))) {
    if ('unsupported' in m) throw new Error(m.unsupported);
    let data = '';
    for await (const c of m.body()) data += c.toString();
    out.push({ entry: m.entry, data });
  }
  return out;
}

t.test('ustar, pax and GNU long names, every entry type', async (t) => {
  const long = `a/${'b'.repeat(120)}/c.txt`; // fits ustar's prefix + name
  const longer = `x/${'y'.repeat(200)}/z.txt`; // needs pax
  const gnu = `g/${'h'.repeat(150)}`; // GNU ././@LongLink
  const members: Member[] = [
    { path: 'dir/', type: 'dir', mode: 0o1777 },
    { path: 'dir/file', body: 'hello', mode: 0o4755, uid: 12, gid: 34, mtime: 1234567890 },
    { path: long, body: 'one' },
    { path: longer, body: 'two', xattrs: { 'user.note': 'hi', 'security.capability': Buffer.from([1, 0, 0, 2]) } },
    { path: gnu, body: 'three', longNames: 'gnu' },
    { path: 'sym', type: 'symlink', linkname: `../${'t'.repeat(150)}` },
    { path: 'hard', type: 'hardlink', linkname: 'dir/file' },
    { path: 'dev', type: 'char', devmajor: 1, devminor: 5 },
    { path: 'blk', type: 'block', devmajor: 8, devminor: 1 },
    { path: 'pipe', type: 'fifo' },
  ];
  for (const chunk of [1, 511, 512, 700, 1 << 20]) {
    const got = await read(writeTar(members), chunk);
    t.same(
      got.map((g) => g.entry.path),
      members.map((m) => m.path),
      `paths, chunks of ${chunk}`,
    );
    t.same(
      got.map((g) => g.data),
      ['', 'hello', 'one', 'two', 'three', '', '', '', '', ''],
    );
  }
  const got = await read(writeTar(members));
  const file = got[1].entry;
  t.match(file, { type: 'file', mode: 0o4755, uid: 12, gid: 34, mtime: 1234567890, size: 5 });
  t.equal(got[0].entry.mode, 0o1777);
  t.equal(got[3].entry.xattrs.get('user.note')?.toString(), 'hi');
  t.same([...got[3].entry.xattrs.get('security.capability')!], [1, 0, 0, 2], 'binary xattr value intact');
  t.match(got[5].entry, { type: 'symlink', linkname: `../${'t'.repeat(150)}` });
  t.match(got[6].entry, { type: 'hardlink', linkname: 'dir/file', size: 0 });
  t.match(got[7].entry, { type: 'char', devmajor: 1, devminor: 5 });
  t.match(got[8].entry, { type: 'block', devmajor: 8, devminor: 1 });
  t.match(got[9].entry, { type: 'fifo' });
});

t.test('a body left unread is skipped', async (t) => {
  const tar = writeTar([
    { path: 'a', body: 'x'.repeat(3000) },
    { path: 'b', body: 'y' },
  ]);
  const seen: string[] = [];
  for await (const m of tarMembers(Readable.from([tar]))) if (!('unsupported' in m)) seen.push(m.entry.path);
  t.same(seen, ['a', 'b']);
});

t.test('a pre-POSIX directory (a regular entry ending in /) is a directory, its data skipped', async (t) => {
  const got = await read(
    writeTar([
      { path: 'old/', type: 'file', body: 'abc' },
      { path: 'next', body: 'n' },
    ]),
  );
  t.same(
    got.map((g) => [g.entry.path, g.entry.type, g.data]),
    [
      ['old/', 'dir', ''],
      ['next', 'file', 'n'],
    ],
  );
});

t.test('malformed archives are refused', async (t) => {
  const tar = writeTar([{ path: 'a', body: 'x'.repeat(2000) }]);
  const bad = Buffer.from(tar);
  bad[10] ^= 0xff;
  await t.rejects(read(bad), { name: 'TarFormatError', message: /checksum/ });
  await t.rejects(read(tar.subarray(0, 1024)), { name: 'TarFormatError', message: /truncated/ });
  await t.rejects(read(Buffer.alloc(700, 'a')), { name: 'TarFormatError' });
  t.throws(() => parsePax(Buffer.from('99 path=x\n')), { name: 'TarFormatError', message: /pax/ });
  t.same(parsePax(Buffer.from('12 path=abc\n')).get('path')?.toString(), 'abc');
});

// A tar as umoci 0.4.7 writes a layer (umoci bug #436): the last member's data, then nothing.
t.test("the end of the input inside the last member's padding (no end-of-archive blocks) is the archive's end", async (t) => {
  const tar = writeTar([
    { path: 'a', body: 'x'.repeat(700) },
    { path: 'b', body: 'hello' },
  ]);
  // a: header, 700 bytes and 324 of padding; b: header at 1536, its 5 bytes of data at 2048.
  const dataEnd = 2048 + 5;
  t.equal(tar.subarray(2048, dataEnd).toString(), 'hello', "b's data is where the test cuts");
  for (const cut of [dataEnd, dataEnd + 1, dataEnd + 200, 2559, 2560]) {
    for (const chunk of [1, 5, 700, 1 << 20]) {
      const got = await read(tar.subarray(0, cut), chunk);
      t.same(
        got.map((g) => [g.entry.path, g.data.length]),
        [
          ['a', 700],
          ['b', 5],
        ],
        `cut ${cut - dataEnd} bytes into the padding, chunks of ${chunk}: both members, whole`,
      );
    }
  }
  // Members not read by the consumer are skipped the same way.
  const seen: string[] = [];
  for await (const m of tarMembers(Readable.from([tar.subarray(0, dataEnd)]))) if (!('unsupported' in m)) seen.push(m.entry.path);
  t.same(seen, ['a', 'b'], 'bodies left unread');
});

t.test("the end of the input inside a member's data or inside a header is still truncation", async (t) => {
  const tar = writeTar([
    { path: 'a', body: 'x'.repeat(700) },
    { path: 'b', body: 'hello' },
  ]);
  const unread = async (bytes: Buffer) => {
    for await (const m of tarMembers(Readable.from([bytes]))) void m;
  };
  for (const cut of [2048, 2052]) {
    await t.rejects(read(tar.subarray(0, cut)), {
      name: 'TarFormatError',
      message: 'the tar archive is truncated in the data of member "b"',
    });
    await t.rejects(unread(tar.subarray(0, cut)), { message: /truncated in the data of member "b"/ }, 'when its body is not read too');
  }
  await t.rejects(read(tar.subarray(0, 600)), { message: /truncated in the data of member "a"/ }, 'a member before the last');
  for (const cut of [1536 + 1, 1536 + 100, 2047, 100]) {
    await t.rejects(
      read(tar.subarray(0, cut)),
      { name: 'TarFormatError', message: 'the tar archive is truncated' },
      `in a header (${cut})`,
    );
  }
  const extended = writeTar([{ path: `p/${'q'.repeat(200)}`, body: 'x' }]);
  await t.rejects(read(extended.subarray(0, 512 + 100)), { message: /truncated/ }, 'in a pax header');
});

t.test('sparse and unknown entry types are reported, not unpacked', async (t) => {
  const tar = writeTar([{ path: 'a', body: 'x' }]);
  const odd = Buffer.from(tar);
  odd.write('S', 156, 'latin1');
  odd.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += odd[i];
  odd.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const out = [];
  for await (const m of tarMembers(Readable.from([odd]))) out.push(m);
  t.match(out, [{ unsupported: /sparse/, path: 'a' }]);
});

t.test('member paths: normalized, absolute and .. refused', async (t) => {
  t.same(memberComponents('./a//b/./c/'), ['a', 'b', 'c']);
  t.same(memberComponents('./'), []);
  t.same(memberComponents('/etc/passwd'), { refused: 'absolute path' });
  t.match(memberComponents('a/../../evil'), { refused: /\.\./ });
  t.match(memberComponents('..'), { refused: /\.\./ });
  t.same(memberComponents('a..b/..c'), ['a..b', '..c'], 'dots inside names are fine');
});

t.test('a tar file indexed by member offset', async (t) => {
  const dir = tempDir(t, 'tar');
  const file = join(dir, 'x.tar');
  const big = 'z'.repeat(5000);
  writeFileSync(
    file,
    writeTar([
      { path: 'd/', type: 'dir' },
      { path: 'd/one', body: 'first' },
      { path: `p/${'q'.repeat(200)}`, body: big },
      { path: 'd/one', body: 'again' },
    ]),
  );
  const index = indexTarFile(file);
  t.same([...index.keys()].sort(), ['d/', 'd/one', `p/${'q'.repeat(200)}`]);
  const one = index.get('d/one')!;
  const data = Buffer.alloc(one.entry.size);
  const { openSync, readSync, closeSync } = await import('node:fs');
  const fd = openSync(file, 'r');
  readSync(fd, data, 0, data.length, one.offset);
  closeSync(fd);
  t.equal(data.toString(), 'again', 'the last of two members with one name');
  t.equal(index.get(`p/${'q'.repeat(200)}`)!.entry.size, 5000);
});
