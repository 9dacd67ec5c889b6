//! A real SMTP server on loopback for the tests: it speaks enough of RFC 5321 for any client
//! (lettre included) to deliver to it, and keeps what it receives.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub struct SmtpSink {
    received: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// Starts listening on a free loopback port; returns the sink and its `smtp://` URL.
    pub async fn start() -> std::io::Result<(Self, String)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let sink = Self::default();
        let accepted = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(accepted.clone().session(stream));
            }
        });
        Ok((sink, url))
    }

    /// Every message received so far (headers and body, as sent).
    pub fn messages(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to 10 s) until a message containing `needle` has arrived and returns it.
    pub async fn wait_for(&self, needle: &str) -> Option<String> {
        self.wait_for_all(&[needle]).await
    }

    /// Waits (up to 10 s) until a message containing every one of `needles` has arrived and
    /// returns the latest such (a sign-up's verification email and a later reset go to the
    /// same address).
    pub async fn wait_for_all(&self, needles: &[&str]) -> Option<String> {
        for _ in 0..200 {
            if let Some(found) = self
                .messages()
                .into_iter()
                .rev()
                .find(|m| needles.iter().all(|n| m.contains(n)))
            {
                return Some(found);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    async fn session(self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
        let mut data: Option<String> = None;
        while let Some(line) = lines.next_line().await? {
            if let Some(body) = data.as_mut() {
                if line == "." {
                    let message = std::mem::take(body);
                    data = None;
                    self.received
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(message);
                    write.write_all(b"250 2.0.0 queued\r\n").await?;
                } else {
                    // Dot-stuffing: a leading "." was doubled by the client.
                    body.push_str(line.strip_prefix('.').unwrap_or(&line));
                    body.push('\n');
                }
                continue;
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 ok\r\n",
                "DATA" => {
                    data = Some(String::new());
                    b"354 end with <CRLF>.<CRLF>\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 2.0.0 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"502 5.5.2 not implemented\r\n",
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }
}

/// The `Code: …` line of an email.
#[must_use]
pub fn code_in(message: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| l.trim().strip_prefix("Code: "))
        .map(|c| c.trim().to_owned())
}
