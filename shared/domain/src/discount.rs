//! Discounts of a quote: per line and per revision, as an amount or a percentage, never below zero.
//!
//! A line's discount comes off its total (`quantity × unit price`); the revision's discount comes off what the
//! lines add up to after their own discounts and is shared over the lines in proportion to those amounts
//! (largest remainder, so the shares add up to the centavo). Each line then carries its whole discount, which
//! is what the NF-e (`vDesc` per item) and the NFS-e (`vDescIncond`) declare; a rejected line takes its share
//! with it.

use serde::{Deserialize, Serialize};

use crate::values::{Money, Percent};

/// A discount as staff typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Discount {
    /// An amount in reais.
    Value { value: Money },
    /// A percentage of the amount it applies to.
    Percent { percent: Percent },
}

/// Why a discount cannot be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountError {
    Negative,
    /// The discount is larger than the amount it applies to.
    OverAmount,
}

impl Discount {
    /// The discount on `base` (not negative); refused when negative or larger than `base`.
    pub fn on(self, base: Money) -> Result<Money, DiscountError> {
        let amount = match self {
            Discount::Value { value } => value,
            Discount::Percent { percent } => percent.of(base),
        };
        if amount.is_negative() {
            Err(DiscountError::Negative)
        } else if amount > base {
            Err(DiscountError::OverAmount)
        } else {
            Ok(amount)
        }
    }
}

/// Shares `total` over `bases` in proportion to them, in centavos, with the largest-remainder rule (ties go to
/// the earlier base): the shares add up to `total` exactly and no share is larger than its base. `total` must be
/// between zero and the sum of the bases, every base not negative.
pub fn apportion(total: Money, bases: &[Money]) -> Vec<Money> {
    let sum: i128 = bases.iter().map(|b| i128::from(b.cents())).sum();
    let t = i128::from(total.cents());
    if sum == 0 || t == 0 {
        return vec![Money::zero(); bases.len()];
    }
    let exact: Vec<(i128, i128)> = bases
        .iter()
        .map(|b| (t * i128::from(b.cents())) / sum)
        .zip(bases)
        .map(|(q, b)| (q, (t * i128::from(b.cents())) % sum))
        .collect();
    let mut shares: Vec<i128> = exact.iter().map(|(q, _)| *q).collect();
    let mut left = t - shares.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..bases.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        if exact[i].1 > 0 {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares.into_iter().map(|c| Money::from_cents(c as i64).expect("a share is within its base")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn a_value_or_a_percentage_never_goes_below_zero() {
        let value = |s: &str| Discount::Value { value: m(s) };
        assert_eq!(value("10.00").on(m("149.90")), Ok(m("10.00")));
        assert_eq!(value("149.91").on(m("149.90")), Err(DiscountError::OverAmount));
        assert_eq!(value("-1.00").on(m("149.90")), Err(DiscountError::Negative));
        let pct = Discount::Percent { percent: Percent::parse("100").unwrap() };
        assert_eq!(pct.on(m("149.90")), Ok(m("149.90")));
    }

    #[test]
    fn shares_add_up_to_the_centavo() {
        let shares = apportion(m("10.00"), &[m("149.90"), m("120.00")]);
        assert_eq!(shares, vec![m("5.55"), m("4.45")]);
        let thirds = apportion(m("0.10"), &[m("1.00"), m("1.00"), m("1.00")]);
        assert_eq!(thirds, vec![m("0.04"), m("0.03"), m("0.03")]);
        assert_eq!(apportion(m("3.00"), &[m("0.00"), m("3.00")]), vec![m("0.00"), m("3.00")]);
        assert_eq!(apportion(Money::zero(), &[m("1.00")]), vec![Money::zero()]);
    }
}
