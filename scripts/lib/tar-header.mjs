// One ustar header block, for the test and bench fixtures that write a tar by hand (a layer
// generated on the fly, never on disk): a regular file, mode 0644, owner 0:0.

/** The 512-byte ustar header of a regular file `name` of `size` bytes, modified at `mtime` (seconds). */
export function ustarHeader(name, size, mtime = 0) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(mtime.toString(8).padStart(11, '0') + '\0', 136);
  h.write('        ', 148); // the checksum field counts as spaces while the sum is taken
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}
