//! Deletes the RabbitMQ queues named on standard input (one per line) over one connection, for
//! `scripts/clean-test-state.sh`: `rabbitmqctl list_queues name | grep '^t\.' | drop-test-queues`.
//! One `rabbitmqctl delete_queue` per queue starts a new Erlang VM each time (about 0.6 s).

use std::io::{BufRead, Write};

use lapin::options::QueueDeleteOptions;
use lapin::types::ShortString;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let names: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let mut channel = conn.create_channel().await?;
    let mut deleted = 0usize;
    for name in &names {
        match channel
            .queue_delete(ShortString::from(name.as_str()), QueueDeleteOptions::default())
            .await
        {
            Ok(_) => deleted += 1,
            // A queue that went away meanwhile closes the channel: open another and go on.
            Err(e) => {
                eprintln!("drop-test-queues: {name}: {e}");
                channel = conn.create_channel().await?;
            }
        }
    }
    let _ = conn.close(200, ShortString::from("done")).await;
    writeln!(std::io::stdout().lock(), "{deleted}")?;
    Ok(())
}
