//! Embedded fonts and text drawing.
//!
//! plotters' `ab_glyph` renderer (used for the PNG) places every glyph at the integer-truncated
//! pen position and ignores the glyph's left side bearing, which makes the letter spacing
//! visibly uneven ("l evels"). For the bitmap backend we therefore draw text one glyph at a
//! time, at pen positions from plotters' own (kerned) text measurement plus each glyph's left
//! bearing, read from the embedded TrueType file. SVG text is written as whole strings and
//! laid out by the viewer.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

use super::Sty;

static REGULAR: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/DejaVuSans-Bold.ttf");

/// The font family every chart text uses: the SVG's `font-family`, and the name the embedded
/// font is registered under for measuring and bitmap rendering.
pub(crate) const FAMILY: &str = "DejaVu Sans, sans-serif";

static FONTS: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Register the embedded DejaVu Sans (normal and bold) as [`FAMILY`] and as the generic
/// families plotters uses internally ("sans-serif", "serif", "monospace"), once per process.
pub(crate) fn ensure_fonts() -> Result<()> {
    FONTS
        .get_or_init(|| {
            let mut ok = true;
            for family in [FAMILY, "sans-serif", "serif", "monospace"] {
                ok &= plotters::style::register_font(family, FontStyle::Normal, REGULAR).is_ok();
                ok &= plotters::style::register_font(family, FontStyle::Bold, BOLD).is_ok();
            }
            if ok {
                Ok(())
            } else {
                Err("the embedded DejaVu Sans font could not be parsed".to_string())
            }
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

// ---------------------------------------------------------------------------------------------
// Just enough TrueType parsing to find a glyph's left edge (glyf xMin).

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn i16_at(b: &[u8], o: usize) -> Option<i16> {
    u16_at(b, o).map(|v| v as i16)
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(o)?,
        *b.get(o + 1)?,
        *b.get(o + 2)?,
        *b.get(o + 3)?,
    ]))
}

/// Glyph metrics of one TrueType font.
pub(crate) struct TtfMetrics {
    data: &'static [u8],
    cmap: usize,
    cmap_format: u16,
    loca: usize,
    long_loca: bool,
    glyf: usize,
    num_glyphs: u16,
    /// ascender - descender (hhea), in font units: ab_glyph's pixel scale unit.
    height: f64,
}

impl TtfMetrics {
    fn parse(data: &'static [u8]) -> Option<TtfMetrics> {
        let n = u16_at(data, 4)? as usize;
        let table = |tag: &[u8; 4]| -> Option<usize> {
            (0..n).find_map(|i| {
                let r = 12 + 16 * i;
                (data.get(r..r + 4)? == tag).then(|| u32_at(data, r + 8).map(|o| o as usize))?
            })
        };
        let head = table(b"head")?;
        let hhea = table(b"hhea")?;
        let maxp = table(b"maxp")?;
        let loca = table(b"loca")?;
        let glyf = table(b"glyf")?;
        let cmap_table = table(b"cmap")?;
        let long_loca = i16_at(data, head + 50)? == 1;
        let height = i16_at(data, hhea + 4)? as f64 - i16_at(data, hhea + 6)? as f64;
        let num_glyphs = u16_at(data, maxp + 4)?;
        // Prefer a full-Unicode (format 12) subtable, else a BMP (format 4) one.
        let mut best: Option<(usize, u16)> = None;
        for i in 0..u16_at(data, cmap_table + 2)? as usize {
            let rec = cmap_table + 4 + 8 * i;
            let (pid, eid) = (u16_at(data, rec)?, u16_at(data, rec + 2)?);
            let sub = cmap_table + u32_at(data, rec + 4)? as usize;
            let format = u16_at(data, sub)?;
            let unicode = pid == 0 || (pid == 3 && (eid == 1 || eid == 10));
            if unicode && (format == 12 || (format == 4 && best.is_none())) {
                best = Some((sub, format));
            }
        }
        let (cmap, cmap_format) = best?;
        (height > 0.0).then_some(TtfMetrics {
            data,
            cmap,
            cmap_format,
            loca,
            long_loca,
            glyf,
            num_glyphs,
            height,
        })
    }

    fn glyph_id(&self, c: char) -> Option<u16> {
        let (b, s, c) = (self.data, self.cmap, c as u32);
        if self.cmap_format == 12 {
            let groups = u32_at(b, s + 12)? as usize;
            let (mut lo, mut hi) = (0usize, groups);
            while lo < hi {
                let mid = (lo + hi) / 2;
                let g = s + 16 + 12 * mid;
                let (start, end) = (u32_at(b, g)?, u32_at(b, g + 4)?);
                if c < start {
                    hi = mid;
                } else if c > end {
                    lo = mid + 1;
                } else {
                    return Some((u32_at(b, g + 8)? + (c - start)) as u16);
                }
            }
            return Some(0);
        }
        if c > 0xFFFF {
            return Some(0);
        }
        let seg2 = u16_at(b, s + 6)? as usize;
        let ends = s + 14;
        let starts = ends + seg2 + 2;
        let deltas = starts + seg2;
        let ranges = deltas + seg2;
        for i in 0..seg2 / 2 {
            if (u16_at(b, ends + 2 * i)? as u32) < c {
                continue;
            }
            let start = u16_at(b, starts + 2 * i)? as u32;
            if start > c {
                return Some(0);
            }
            let delta = u16_at(b, deltas + 2 * i)? as u32;
            let ro = u16_at(b, ranges + 2 * i)? as usize;
            if ro == 0 {
                return Some(((c + delta) & 0xFFFF) as u16);
            }
            let addr = ranges + 2 * i + ro + 2 * (c - start) as usize;
            let g = u16_at(b, addr)? as u32;
            return Some(if g == 0 {
                0
            } else {
                ((g + delta) & 0xFFFF) as u16
            });
        }
        Some(0)
    }

    /// glyf xMin of the glyph for `c`, in font units (0 for empty glyphs such as space).
    fn x_min(&self, c: char) -> Option<i16> {
        let g = self.glyph_id(c)?;
        if g >= self.num_glyphs {
            return None;
        }
        let (b, g) = (self.data, g as usize);
        let (a, z) = if self.long_loca {
            (
                u32_at(b, self.loca + 4 * g)? as usize,
                u32_at(b, self.loca + 4 * g + 4)? as usize,
            )
        } else {
            (
                2 * u16_at(b, self.loca + 2 * g)? as usize,
                2 * u16_at(b, self.loca + 2 * g + 2)? as usize,
            )
        };
        if z <= a {
            return Some(0);
        }
        i16_at(b, self.glyf + a + 2)
    }

    /// Left bearing of `c` in pixels at plotters font size `size`, as ab_glyph rounds it.
    pub(crate) fn left_px(&self, c: char, size: f64) -> i32 {
        let x = self.x_min(c).unwrap_or(0) as f64;
        (x * size / self.height).floor() as i32
    }
}

/// Metrics of the embedded regular and bold fonts.
pub(crate) fn metrics(bold: bool) -> Option<&'static TtfMetrics> {
    static M: OnceLock<[Option<TtfMetrics>; 2]> = OnceLock::new();
    let m = M.get_or_init(|| [TtfMetrics::parse(REGULAR), TtfMetrics::parse(BOLD)]);
    m[bold as usize].as_ref()
}

// ---------------------------------------------------------------------------------------------
// Drawing

/// Horizontal placement of a text relative to its reference point (vertically always centred).
#[derive(Clone, Copy)]
pub enum Anchor {
    Center,
    Left,
    Right,
}

/// Draw `s` horizontally with its vertical centre at `pos` (area-relative).
pub fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    pos: (i32, i32),
    anchor: Anchor,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    draw(area, s, style, pos, anchor, false, st)
}

/// Draw `s` rotated to read bottom-to-top, centred at `pos` (area-relative).
pub fn text_up<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    pos: (i32, i32),
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    draw(area, s, style, pos, Anchor::Center, true, st)
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    pos: (i32, i32),
    anchor: Anchor,
    up: bool,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if s.is_empty() {
        return Ok(());
    }
    let h = match anchor {
        Anchor::Center => HPos::Center,
        Anchor::Left => HPos::Left,
        Anchor::Right => HPos::Right,
    };
    let style = if up {
        style.transform(FontTransform::Rotate270)
    } else {
        style.clone()
    };
    // Bitmap glyphs sit ~0.14 font-size higher than their layout box: push them "down" in the
    // text's own frame (to the right for upward text).
    let dy = st.text_dy(&style);
    let (px, py) = if up {
        (pos.0 + dy, pos.1)
    } else {
        (pos.0, pos.1 + dy)
    };
    let bold = matches!(style.font.get_style(), FontStyle::Bold);
    let m = if st.png { metrics(bold) } else { None };
    let Some(m) = m else {
        area.draw_text(s, &style.pos(Pos::new(h, VPos::Center)), (px, py))?;
        return Ok(());
    };
    // Glyph by glyph.
    let width = |t: &str| -> Result<i32> { Ok(area.estimate_text_size(t, &style)?.0 as i32) };
    let total = width(s)?;
    let start = match anchor {
        Anchor::Left => 0,
        Anchor::Center => -total / 2,
        Anchor::Right => -total,
    };
    let glyph_style = style.pos(Pos::new(HPos::Left, VPos::Center));
    let size = style.font.get_size();
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        let along = start + width(&s[..i])? + m.left_px(c, size);
        let at = if up {
            (px, py - along)
        } else {
            (px + along, py)
        };
        let mut buf = [0u8; 4];
        area.draw_text(c.encode_utf8(&mut buf), &glyph_style, at)?;
    }
    Ok(())
}
