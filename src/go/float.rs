//! Floats as Nomad's HTTP API writes them: its JSON codec (go-msgpack's `codec.JsonHandle`)
//! keeps a `.0` on whole numbers so that a float always reads as one, and otherwise writes the
//! shortest text that reads back as the same value at the float's width.

/// The codec's text of a float: `1.0`, `0.25`, `123456789.0`, and exponent form outside
/// [1e-6, 1e21) as Go's `strconv` writes it (`1e-07`, `1.5e+21`). `f32` values (`bits32`) are
/// formatted at 32 bits, as the codec does for a `float32` field. NaN and infinities, which
/// the codec writes as `null`, become `null`.
pub fn json_float(v: f64, bits32: bool) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    let abs = if bits32 { f64::from((v as f32).abs()) } else { v.abs() };
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = if bits32 { format!("{:e}", v as f32) } else { format!("{v:e}") };
        let Some((mantissa, exp)) = text.split_once('e') else { return text };
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    match (v.fract() == 0.0, bits32) {
        (true, true) => format!("{:.1}", v as f32),
        (true, false) => format!("{v:.1}"),
        (false, true) => format!("{}", v as f32),
        (false, false) => format!("{v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::json_float;

    #[test]
    fn like_nomads_codec() {
        assert_eq!(json_float(1.0, false), "1.0");
        assert_eq!(json_float(0.0, true), "0.0");
        assert_eq!(json_float(-3.0, true), "-3.0");
        assert_eq!(json_float(123456789.0, false), "123456789.0");
        assert_eq!(json_float(0.1, false), "0.1");
        assert_eq!(json_float(f64::from(0.1f32), true), "0.1");
        assert_eq!(json_float(f64::from(0.1f32), false), "0.10000000149011612");
        assert_eq!(json_float(1e-7, false), "1e-07");
        assert_eq!(json_float(1.5e21, false), "1.5e+21");
        assert_eq!(json_float(2.5e-300, false), "2.5e-300");
        assert_eq!(json_float(f64::NAN, false), "null");
    }
}
