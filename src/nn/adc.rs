//! The output ADC's reading of a matrix-vector product's sum: clipped to [-B, B], then (with
//! M levels) rounded half to even to the nearest of M uniform levels from -B to B. One
//! definition for training (`train_adc_levels` / `train_adc_range`, in `nn::mlp::deep`) and
//! for `aqnn eval` (`analog::forward`), so a run trained with an ADC and evaluated with the
//! same ADC and no noise gives its own test accuracy bit for bit.

/// An ADC ready to read: the range and, when quantizing, the step and its reciprocal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdcRead {
    range: f32,
    /// (1 / step, step), step = 2B / (M - 1); `None`: clipping only.
    steps: Option<(f32, f32)>,
}

impl AdcRead {
    /// The ADC reading [-range, range] with `levels` levels (`None`: clip only). The caller
    /// has checked range > 0 and levels >= 2.
    pub fn new(range: f32, levels: Option<u32>) -> AdcRead {
        AdcRead {
            range,
            steps: levels.map(|m| {
                let step = 2.0 * range / (m - 1) as f32;
                (1.0 / step, step)
            }),
        }
    }

    /// B.
    pub fn range(&self) -> f32 {
        self.range
    }

    /// The reading of the sum `v`: level index `round_ties_even((v + B) / step)`, computed
    /// with the reciprocal, then `index * step - B`.
    #[inline(always)]
    pub fn read(&self, v: f32) -> f32 {
        let r = self.range;
        let v = v.clamp(-r, r);
        match self.steps {
            Some((inv, step)) => ((v + r) * inv).round_ties_even() * step - r,
            None => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M levels from -B to B, clipped, every reading a level, nearest level, ties to even.
    #[test]
    fn reads_m_levels_over_the_range() {
        let (b, m) = (4.0f32, 16u32);
        let adc = AdcRead::new(b, Some(m));
        let step = 2.0 * b / (m - 1) as f32;
        assert_eq!(adc.read(-100.0), -4.0);
        assert_eq!(adc.read(100.0), 4.0);
        assert_eq!(adc.read(f32::INFINITY), 4.0);
        let mut seen = std::collections::BTreeSet::new();
        for i in -500..=500 {
            let v = adc.read(i as f32 * 0.01);
            let k = ((v + b) / step).round();
            assert!((v - (k * step - b)).abs() < 1e-5, "{v} is not a level");
            assert!((v - i as f32 * 0.01).abs() <= step / 2.0 + 1e-5 || v.abs() == b);
            seen.insert(v.to_bits());
        }
        assert_eq!(seen.len(), m as usize);
        // Ties round to the even level: M = 17, B = 4 (step 0.5): (a + B) / step = 0.5 -> 0
        // and 1.5 -> 2.
        let adc = AdcRead::new(4.0, Some(17));
        assert_eq!(adc.read(-3.75), -4.0);
        assert_eq!(adc.read(-3.25), -3.0);
        // Without levels: clipping only.
        let clip = AdcRead::new(2.0, None);
        assert_eq!(
            (clip.read(-3.0), clip.read(0.3), clip.read(9.0)),
            (-2.0, 0.3, 2.0)
        );
    }
}
