//! What one order may hold.
//!
//! The order is one stored item (DynamoDB refuses items over 400 KB), rewritten whole by every step. Its size is
//! bounded here, so that no step can ever fail at the store: each command's lists and texts have a maximum, the
//! item keeps only the latest messages sent (the timeline keeps them all), and a step that would take the order
//! past [`ORDER_CONTENT_LIMIT_BYTES`] by adding content (a note, an attachment, a revision…) is refused with
//! [`crate::DomainError::OrderTooLarge`] (413). Steps that only move the order on (start, finish, pay, cancel,
//! close…) are still allowed up to [`ORDER_LIMIT_BYTES`], well below the store's limit: an order that is full
//! can always be finished or cancelled. The full history stays in the order's events.

use crate::event::Event;
use crate::machine::Command;
use crate::order::Order;

/// Past this size (the order's JSON), commands that add content are refused.
pub const ORDER_CONTENT_LIMIT_BYTES: usize = 256 * 1024;
/// No step may leave an order larger than this (DynamoDB's item limit is 400 KB, attribute names included).
pub const ORDER_LIMIT_BYTES: usize = 320 * 1024;
/// Lines of one quote revision (main or supplementary).
pub const MAX_QUOTE_LINES: usize = 200;
/// Missing parts named by one material wait.
pub const MAX_MATERIAL_PARTS: usize = 50;
/// Items of the quality checklist.
pub const MAX_CHECKLIST_ITEMS: usize = 100;
/// Messages sent kept on the order (the latest ones; every one is an event of the timeline).
pub const NOTIFICATIONS_KEPT: usize = 50;

/// Whether the command adds content that stays on the order (as opposed to moving it on).
pub fn adds_content(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::ReviseQuote { .. }
            | Command::AddNote { .. }
            | Command::AddAttachment { .. }
            | Command::WaitMaterial { .. }
            | Command::Validate { .. }
            | Command::RegisterPayment { .. }
            | Command::Finish { .. }
            | Command::DecideQuote { .. }
    )
}

/// The size of the order as stored (its JSON), counted as it is written: nothing is kept.
pub fn order_bytes(order: &Order) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, order).map_or(usize::MAX, |()| count.0)
}

/// The limit that applies to a command: [`ORDER_CONTENT_LIMIT_BYTES`] when it adds content, else
/// [`ORDER_LIMIT_BYTES`].
pub fn limit_for(adds_content: bool) -> usize {
    if adds_content { ORDER_CONTENT_LIMIT_BYTES } else { ORDER_LIMIT_BYTES }
}

/// The order after `events`, if it stays within `limit` bytes; else its size.
pub fn check(order: &Order, events: &[Event], limit: usize) -> Result<(), usize> {
    let mut next = order.clone();
    for e in events {
        next.apply(e);
    }
    match order_bytes(&next) {
        n if n > limit => Err(n),
        _ => Ok(()),
    }
}
