//! The mod-11 check digit used by CPF and CNPJ.

/// Mod-11 check digit of `values`, weighting them from the right with
/// 2, 3, ... up to `max_weight`, then starting again at 2.
///
/// With `r` the weighted sum modulo 11, the digit is 0 when `r < 2`, else
/// `11 - r`. CPF uses `max_weight = 11` (weights never cycle for its at most
/// 10 values); CNPJ uses `max_weight = 9`.
pub(crate) fn mod11(values: impl DoubleEndedIterator<Item = u32>, max_weight: u32) -> u8 {
    let mut weight = 2;
    let mut sum = 0u32;
    for value in values.rev() {
        sum += value * weight;
        weight = if weight == max_weight { 2 } else { weight + 1 };
    }
    match sum % 11 {
        0 | 1 => 0,
        r => (11 - r) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_weights_from_the_right() {
        // 1*4 + 1*3 + 1*2 = 9 -> 11 - 9 = 2 (no cycling with max weight 9).
        assert_eq!(mod11([1, 1, 1].into_iter(), 9), 2);
        // Weights from the right with max 3: 2, 3, 2, 3 -> 10 -> 11 - 10 = 1.
        assert_eq!(mod11([1, 1, 1, 1].into_iter(), 3), 1);
        // Remainders 0 and 1 both give 0.
        assert_eq!(mod11([0, 0].into_iter(), 9), 0);
        assert_eq!(mod11([6].into_iter(), 9), 0); // 12 % 11 == 1
    }
}
