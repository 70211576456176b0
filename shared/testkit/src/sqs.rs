//! SQS on the emulator as the consumers' tests read it (feature `emulator`): receiving what a queue holds, checking
//! that nothing more came, and the record Lambda hands a function for a received message.

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};

/// Receives from `url` until `expected` messages came or the queue stays empty for three polls of a second; the
/// messages stay hidden for a minute (with every system attribute). A FIFO queue's messages are deleted as they
/// come: its group hands out nothing more while one of them is in flight.
pub async fn receive(client: &Client, url: &str, expected: usize) -> Vec<Message> {
    let mut got = Vec::new();
    let mut empty_polls = 0;
    while got.len() < expected && empty_polls < 3 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty_polls += 1;
        }
        if url.ends_with(".fifo") {
            delete_all(client, url, &messages).await;
        }
        got.extend(messages);
    }
    got
}

/// Deletes these received messages from `url`.
pub async fn delete_all(client: &Client, url: &str, messages: &[Message]) {
    for m in messages {
        client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
    }
}

/// Nothing more arrives on `url` (a receive after the expected messages).
pub async fn assert_empty(client: &Client, url: &str) {
    let out = client.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await;
    let extra = out.expect("ReceiveMessage").messages.unwrap_or_default();
    assert!(extra.is_empty(), "unexpected messages on {url}: {:?}", extra.iter().map(|m| m.body()).collect::<Vec<_>>());
}

/// The record Lambda would hand the function for a received message.
pub fn lambda_record(message: &Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.attributes = message
        .attributes()
        .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect())
        .unwrap_or_default();
    record.event_source = Some("aws:sqs".into());
    record
}
