//! Framing several messages as one `extcombo` for the trip to xymond; [`super::Sender`]
//! sends what this builds.

use std::fmt::Write as _;

/// xymoncgimsg.cgi takes at most 1 MB; xymond took a 950 kB extcombo in our tests.
pub const MAX_COMBO_SIZE: usize = 1_000_000;
/// xymon's own client never puts more than 100 messages in one combo.
pub const MAX_COMBO_MESSAGES: usize = 100;

/// Joins messages into `extcombo` messages (xymond handles each part as if sent alone, over
/// one connection): at most `MAX_COMBO_MESSAGES` and `MAX_COMBO_SIZE` bytes each. A lone
/// message is sent as it is.
pub fn combine(messages: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut batch: Vec<&str> = Vec::new();
    let mut size = 0;
    let flush = |batch: &mut Vec<&str>, out: &mut Vec<Vec<u8>>| match batch.len() {
        0 => {}
        1 => out.push(batch[0].as_bytes().to_vec()),
        _ => out.push(extcombo(batch)),
    };
    for m in messages {
        // Room for the offsets in the header too.
        let cost = m.len() + 12;
        if !batch.is_empty()
            && (batch.len() == MAX_COMBO_MESSAGES || size + cost > MAX_COMBO_SIZE - 32)
        {
            flush(&mut batch, &mut out);
            batch.clear();
            size = 0;
        }
        batch.push(m);
        size += cost;
    }
    flush(&mut batch, &mut out);
    out
}

/// `extcombo START END1 ... ENDn\n` then the messages; offsets count from the start of the
/// whole combo, START is where the first message begins (the header's own length).
fn extcombo(messages: &[&str]) -> Vec<u8> {
    let mut header_len = 0;
    loop {
        let mut header = String::from("extcombo");
        let mut offset = header_len;
        let _ = write!(header, " {offset}");
        for m in messages {
            offset += m.len();
            let _ = write!(header, " {offset}");
        }
        header.push('\n');
        if header.len() == header_len {
            let mut out = header.into_bytes();
            for m in messages {
                out.extend_from_slice(m.as_bytes());
            }
            return out;
        }
        header_len = header.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xymon_wire::DEFAULT_MAX_SIZE;

    #[test]
    fn extcombo_offsets_point_at_each_message() {
        let messages: Vec<String> = (0..3).map(|i| format!("status h.t{i} green x\n")).collect();
        let combos = combine(&messages);
        assert_eq!(combos.len(), 1);
        let combo = String::from_utf8(combos[0].clone()).unwrap();
        let (header, _) = combo.split_once('\n').unwrap();
        let offsets: Vec<usize> = header
            .split(' ')
            .skip(1)
            .map(|o| o.parse().unwrap())
            .collect();
        assert_eq!(offsets[0], header.len() + 1);
        for (i, w) in offsets.windows(2).enumerate() {
            assert_eq!(&combo[w[0]..w[1]], messages[i]);
        }
        assert_eq!(*offsets.last().unwrap(), combo.len());
        assert_eq!(
            combine(&messages[..1]),
            vec![messages[0].as_bytes().to_vec()]
        );
        let many: Vec<String> = (0..250).map(|i| format!("data h.t\nx{i} : 1\n")).collect();
        assert_eq!(combine(&many).len(), 3, "at most 100 messages per combo");
        let big: Vec<String> = (0..9).map(|_| "x".repeat(DEFAULT_MAX_SIZE)).collect();
        let combos = combine(&big);
        assert!(combos.iter().all(|c| c.len() <= MAX_COMBO_SIZE));
        assert_eq!(combos.len(), 3);
    }
}
