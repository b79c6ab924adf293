/**
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag (the text between the first
 * `{` and the next `}`, when not empty) or of the whole key, modulo 16384. As the cluster
 * specification gives it; written here rather than pulling in a package without types for ten
 * lines.
 */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16384;
}
