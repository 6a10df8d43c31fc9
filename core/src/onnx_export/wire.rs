//! The Protocol Buffers wire format, write side only, as much of it as an ONNX file needs:
//! varints (wire type 0), little-endian 32-bit floats (wire type 5) and length-delimited
//! fields (wire type 2: strings, bytes, nested messages).
//!
//! ONNX's `onnx.proto` is proto2; repeated scalars are written unpacked (one key per value),
//! which every protobuf parser accepts.

/// Wire type of varint-encoded scalars (int32, int64, enums).
const VARINT: u64 = 0;
/// Wire type of length-delimited fields.
const LEN: u64 = 2;
/// Wire type of 32-bit fixed-size scalars (float).
const FIXED32: u64 = 5;

/// One message being serialised: its fields are appended in the order they are written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Message {
    buf: Vec<u8>,
}

impl Message {
    pub(crate) fn new() -> Message {
        Message::default()
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u64) {
        self.varint(((field as u64) << 3) | wire);
    }

    /// An `int64`/`int32`/enum field (negative values take ten bytes, as protobuf's int64 does).
    pub(crate) fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, VARINT);
        self.varint(v as u64);
        self
    }

    /// A `float` field.
    pub(crate) fn float(&mut self, field: u32, v: f32) -> &mut Self {
        self.key(field, FIXED32);
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `bytes` field.
    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// A `string` field (UTF-8).
    pub(crate) fn string(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }

    /// A nested message field.
    pub(crate) fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes(field, &m.buf)
    }

    /// Serialised length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The serialised message.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Test-side reader of the same wire format: enough to walk an exported file's structure.
#[cfg(test)]
pub(crate) mod read {
    /// One field: its number and its value.
    #[derive(Clone, Debug, PartialEq)]
    pub(crate) enum Value<'a> {
        Varint(u64),
        Fixed32(u32),
        Fixed64(u64),
        Bytes(&'a [u8]),
    }

    fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Every field of one message, in order; `None` if the bytes are not a valid message.
    pub(crate) fn fields(b: &[u8]) -> Option<Vec<(u32, Value<'_>)>> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < b.len() {
            let key = varint(b, &mut pos)?;
            let field = (key >> 3) as u32;
            let v = match key & 7 {
                0 => Value::Varint(varint(b, &mut pos)?),
                1 => {
                    let s = b.get(pos..pos + 8)?;
                    pos += 8;
                    Value::Fixed64(u64::from_le_bytes(s.try_into().ok()?))
                }
                2 => {
                    let n = varint(b, &mut pos)? as usize;
                    let s = b.get(pos..pos.checked_add(n)?)?;
                    pos += n;
                    Value::Bytes(s)
                }
                5 => {
                    let s = b.get(pos..pos + 4)?;
                    pos += 4;
                    Value::Fixed32(u32::from_le_bytes(s.try_into().ok()?))
                }
                _ => return None,
            };
            out.push((field, v));
        }
        Some(out)
    }

    /// The length-delimited values of `field`.
    pub(crate) fn all_bytes<'a>(fs: &[(u32, Value<'a>)], field: u32) -> Vec<&'a [u8]> {
        fs.iter().filter(|(f, _)| *f == field).filter_map(|(_, v)| if let Value::Bytes(b) = v { Some(*b) } else { None }).collect()
    }

    /// The strings of `field`.
    pub(crate) fn all_strings(fs: &[(u32, Value<'_>)], field: u32) -> Vec<String> {
        all_bytes(fs, field).into_iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }

    /// The varints of `field`, as i64.
    pub(crate) fn all_ints(fs: &[(u32, Value<'_>)], field: u32) -> Vec<i64> {
        fs.iter().filter(|(f, _)| *f == field).filter_map(|(_, v)| if let Value::Varint(x) = v { Some(*x as i64) } else { None }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::read::*;
    use super::*;

    /// Known encodings (from the protobuf encoding guide: 150 → `08 96 01`), negative int64s in
    /// ten bytes, and a round trip through the test reader.
    #[test]
    fn encodes_varints_floats_and_nested_messages() {
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.clone().into_bytes(), [0x08, 0x96, 0x01]);
        let mut inner = Message::new();
        inner.string(2, "testing");
        m.message(3, &inner).int(4, -1).float(5, 1.5);
        let bytes = m.into_bytes();
        assert_eq!(&bytes[3..5], &[0x1a, 9]);
        let fs = fields(&bytes).unwrap();
        assert_eq!(fs[0], (1, Value::Varint(150)));
        assert_eq!(fields(all_bytes(&fs, 3)[0]).unwrap(), vec![(2, Value::Bytes(b"testing"))]);
        assert_eq!(all_ints(&fs, 4), vec![-1]);
        assert_eq!(fs[3], (5, Value::Fixed32(1.5f32.to_bits())));
        assert_eq!(bytes.len(), 3 + 11 + 11 + 5);
    }
}
