//! Where a CSV chunk's fields end: every delimiter and newline, found 64 bytes at a time as
//! a bit mask and then read off bit by bit. On x86_64 a block's masks take a few SSE2
//! compares (about twice as fast here as a `memchr2` search per field, for fields a few
//! bytes long); elsewhere a plain loop builds them. A quote or a carriage return anywhere in
//! the chunk stops the search: such a chunk needs a full CSV reader. So do bytes that are
//! not UTF-8: the first block with a byte outside ASCII has the rest of the chunk checked
//! (the blocks before it are ASCII, so it starts a character), which spares an ASCII chunk
//! a second pass over its bytes.

/// The positions of the delimiters and newlines of a chunk, in order (see the module's
/// note); none at all once a block holds a quote or a carriage return, or the chunk bytes
/// that are not UTF-8.
pub(crate) struct FieldEnds<'a> {
    bytes: &'a [u8],
    delimiter: u8,
    /// Where the current block starts.
    base: usize,
    /// The ends of the current block not yet read, one bit per byte.
    mask: u64,
    refused: bool,
    /// Whether the chunk's bytes from the first block outside ASCII on have been checked.
    checked: bool,
}

/// A block's bytes: the bit of each byte that ends a field, and of each byte that only a
/// full CSV reader can take; and whether any byte is outside ASCII.
struct Masks {
    ends: u64,
    special: u64,
    wide: bool,
}

const BLOCK: usize = 64;

impl<'a> FieldEnds<'a> {
    pub(crate) fn new(bytes: &'a [u8], delimiter: u8) -> Self {
        let mut ends = FieldEnds {
            bytes,
            delimiter,
            base: 0,
            mask: 0,
            refused: false,
            checked: false,
        };
        ends.load();
        ends
    }

    /// Whether the chunk holds a quote or a carriage return (in a block read so far), or
    /// bytes that are not UTF-8.
    #[cfg(test)]
    fn refused(&self) -> bool {
        self.refused
    }

    /// Checks the chunk from the block at `base`, its first with bytes outside ASCII (which
    /// starts a character, as the bytes before it are ASCII), once; out of the way of the
    /// block loop, which an ASCII chunk never leaves for it.
    #[cold]
    #[inline(never)]
    fn check_utf8(&mut self) {
        self.checked = true;
        if std::str::from_utf8(&self.bytes[self.base..]).is_err() {
            self.refused = true;
        }
    }

    /// Reads the masks of the block at `base`.
    fn load(&mut self) {
        let end = (self.base + BLOCK).min(self.bytes.len());
        let block = &self.bytes[self.base..end];
        let masks = match <&[u8; BLOCK]>::try_from(block) {
            Ok(full) => full_masks(full, self.delimiter),
            Err(_) => plain_masks(block, self.delimiter),
        };
        if masks.special != 0 {
            self.refused = true;
        }
        if masks.wide && !self.checked {
            self.check_utf8();
        }
        self.mask = masks.ends;
    }
}

impl Iterator for FieldEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.refused || self.base + BLOCK >= self.bytes.len() {
                return None;
            }
            self.base += BLOCK;
            self.load();
        }
        if self.refused {
            return None;
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + bit)
    }
}

/// A block's masks, byte by byte (a block shorter than [`BLOCK`], or any block off x86_64).
fn plain_masks(block: &[u8], delimiter: u8) -> Masks {
    let mut masks = Masks {
        ends: 0,
        special: 0,
        wide: !block.is_ascii(),
    };
    for (i, &b) in block.iter().enumerate() {
        masks.ends |= u64::from(b == delimiter || b == b'\n') << i;
        masks.special |= u64::from(b == b'"' || b == b'\r') << i;
    }
    masks
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn full_masks(block: &[u8; BLOCK], delimiter: u8) -> Masks {
    plain_masks(block, delimiter)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
fn full_masks(block: &[u8; BLOCK], delimiter: u8) -> Masks {
    // SAFETY: `sse2_masks` is safe code that needs the CPU to have SSE2 (its only reason
    // to be `unsafe` to call). This function exists only where the build's target has SSE2
    // (the `cfg` above; every x86_64 CPU has it), so every CPU this code runs on has it.
    unsafe { sse2_masks(block, delimiter) }
}

/// A block's masks, 16 bytes at a time: each byte compared with the four bytes sought, the
/// comparisons' top bits gathered into the masks; the bytes' own top bits, set outside
/// ASCII, are gathered once for the block.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn sse2_masks(block: &[u8; BLOCK], delimiter: u8) -> Masks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
        _mm_setzero_si128,
    };
    let byte = |b: u8| _mm_set1_epi8(i8::from_ne_bytes([b]));
    let (delimiter, newline, quote, carriage) =
        (byte(delimiter), byte(b'\n'), byte(b'"'), byte(b'\r'));
    let mut masks = Masks {
        ends: 0,
        special: 0,
        wide: false,
    };
    let mut wide = _mm_setzero_si128();
    for (i, part) in block.chunks_exact(16).enumerate() {
        let word = |at: usize| {
            let mut eight = [0; 8];
            eight.copy_from_slice(&part[at..at + 8]);
            i64::from_le_bytes(eight)
        };
        let v = _mm_set_epi64x(word(8), word(0));
        let ends = _mm_or_si128(_mm_cmpeq_epi8(v, delimiter), _mm_cmpeq_epi8(v, newline));
        let special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, carriage));
        // The 16 top bits, one per byte, as a non-negative i32.
        let bits = |m| u64::from(_mm_movemask_epi8(m).unsigned_abs());
        masks.ends |= bits(ends) << (16 * i);
        masks.special |= bits(special) << (16 * i);
        wide = _mm_or_si128(wide, v);
    }
    masks.wide = _mm_movemask_epi8(wide) != 0;
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ends a byte-by-byte search finds, or `None` for a quote, a carriage return or
    /// bytes that are not UTF-8.
    fn by_bytes(text: &[u8], delimiter: u8) -> Option<Vec<usize>> {
        if text.iter().any(|&b| b == b'"' || b == b'\r') || std::str::from_utf8(text).is_err() {
            return None;
        }
        let ends = text.iter().enumerate();
        Some(
            ends.filter(|(_, &b)| b == delimiter || b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn found(text: &[u8], delimiter: u8) -> Option<Vec<usize>> {
        let mut ends = FieldEnds::new(text, delimiter);
        let all: Vec<usize> = ends.by_ref().collect();
        (!ends.refused()).then_some(all)
    }

    #[test]
    fn every_delimiter_and_newline_is_found_across_blocks_of_any_length() {
        // Lengths around the block's: ends in the first and last byte of blocks and of the
        // tail, bytes with the top bit set (UTF-8) and the delimiter's neighbours.
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 1000] {
            for seed in 0..8u64 {
                let text: Vec<u8> = (0..len as u64)
                    .map(|i| {
                        let x = (i * 7_919 + seed * 104_729) % 23;
                        match x {
                            0 | 1 => b',',
                            2 => b'\n',
                            3 => b';',
                            4 => 0xc3,
                            5 => 0xa9,
                            6 => b'+',
                            _ => b'a' + x as u8,
                        }
                    })
                    .collect();
                for delimiter in [b',', b';', b'\t'] {
                    assert_eq!(
                        found(&text, delimiter),
                        by_bytes(&text, delimiter),
                        "{len} bytes, seed {seed}, delimiter {delimiter}"
                    );
                }
            }
        }
    }

    #[test]
    fn full_blocks_get_the_masks_of_the_byte_by_byte_loop() {
        // Every byte value in every position, against each delimiter: the SSE2 masks (on
        // x86_64) are the plain loop's.
        for delimiter in [b',', b';', b'\t', b'|'] {
            for shift in 0..=255u8 {
                let mut block = [0u8; BLOCK];
                for (i, b) in block.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(37).wrapping_add(shift);
                }
                let (full, plain) = (
                    full_masks(&block, delimiter),
                    plain_masks(&block, delimiter),
                );
                assert_eq!(
                    full.ends, plain.ends,
                    "delimiter {delimiter}, shift {shift}"
                );
                assert_eq!(
                    full.special, plain.special,
                    "delimiter {delimiter}, shift {shift}"
                );
                assert_eq!(
                    full.wide, plain.wide,
                    "delimiter {delimiter}, shift {shift}"
                );
            }
        }
    }

    #[test]
    fn characters_outside_ascii_are_read_across_blocks_and_bytes_not_utf8_refuse() {
        // Two- and three-byte characters over every block boundary (the lines are 7 bytes
        // long), after ASCII blocks or not: the ends are found.
        let mut text = b"ab,cd\n".repeat(12);
        text.extend("é,€x\n".repeat(40).bytes());
        assert_eq!(found(&text, b','), by_bytes(&text, b','));
        assert!(found(&text, b',').is_some());
        // A lone continuation byte, a cut character or an invalid byte, in the first block,
        // the first block outside ASCII, a later one, or the tail: the chunk is refused.
        for at in [0, 5, 63, 72, 73, 130, 200, text.len() - 2] {
            for bad in [0x80, 0xc3, 0xff] {
                let mut broken = text.clone();
                broken[at] = bad;
                if std::str::from_utf8(&broken).is_ok() {
                    continue;
                }
                assert_eq!(found(&broken, b','), None, "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn a_quote_or_carriage_return_in_any_block_refuses_the_chunk() {
        for special in [b'"', b'\r'] {
            for at in [0, 1, 63, 64, 100, 127, 128, 150] {
                let mut text = b"ab,cd\n".repeat(26);
                text[at] = special;
                assert_eq!(found(&text, b','), None, "{special} at {at}");
            }
        }
        assert_eq!(found(b"a,b\nc,d\n", b','), Some(vec![1, 3, 5, 7]));
    }
}
