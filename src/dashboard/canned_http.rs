//! A stand-in HTTP server for the dashboard client's tests: it answers
//! each request with the next of a list of canned answers and hands back
//! what it received.
//!
//! Invariants: one request per connection (each answer closes it), answers
//! in order, and the server stops after the last answer, so a request
//! beyond the list finds no listener: a test sees an unexpected repeat as
//! a connection error rather than a canned success.

use std::{
    io::{Read, Write},
    net::TcpListener,
    thread::JoinHandle,
};

/// A server on a free port of 127.0.0.1.
pub struct CannedServer {
    /// `127.0.0.1:<port>`.
    pub address: String,
    served: JoinHandle<Vec<String>>,
}

impl CannedServer {
    /// Answers with each `(status, body)` in turn.
    pub fn start(answers: Vec<(u16, String)>) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let served = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (code, body) in answers {
                let (mut socket, _) = listener.accept().unwrap();
                seen.push(read_request(&mut socket));
                let answer = format!(
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        CannedServer { address, served }
    }

    /// The requests received (head and body, verbatim), once every answer
    /// was given.
    pub fn requests(self) -> Vec<String> {
        self.served.join().unwrap()
    }
}

/// One request: its head, and as many body bytes as `content-length` says.
fn read_request(socket: &mut impl Read) -> String {
    let mut request = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = socket.read(&mut chunk).unwrap();
        assert!(n > 0, "the client hung up mid-request");
        request.extend_from_slice(&chunk[..n]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse::<usize>().unwrap());
        if request.len() >= end + 4 + length {
            return String::from_utf8(request).unwrap();
        }
    }
}
