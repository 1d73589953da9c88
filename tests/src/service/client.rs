//! A client of the service's line protocol.

use std::io;
use std::net::SocketAddr;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::runtime::{BoxConnection, Runtime};

/// One connection to the service; one request at a time.
pub struct Client {
    connection: BufReader<BoxConnection>,
    line: String,
}

impl Client {
    /// Connects to the service at `addr`.
    ///
    /// # Errors
    ///
    /// The connection error.
    pub async fn connect(runtime: &dyn Runtime, addr: SocketAddr) -> io::Result<Client> {
        let connection = runtime.connect(addr).await?;
        Ok(Client { connection: BufReader::new(connection), line: String::new() })
    }

    /// Sends one request line and returns the reply line, without its newline.
    ///
    /// # Errors
    ///
    /// An I/O error, or [`io::ErrorKind::UnexpectedEof`] if the server closed the connection
    /// before replying.
    pub async fn request(&mut self, request: &str) -> io::Result<&str> {
        let writer = self.connection.get_mut();
        writer.write_all(request.as_bytes()).await?;
        writer.write_all(b"\n").await?;
        writer.flush().await?;
        self.line.clear();
        if self.connection.read_line(&mut self.line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before replying",
            ));
        }
        Ok(self.line.trim_end())
    }

    /// `GET key`: the value, or `None` if the key is absent.
    ///
    /// # Errors
    ///
    /// As [`request`](Client::request); an `ERR` reply is [`io::ErrorKind::Other`].
    pub async fn get(&mut self, key: &str) -> io::Result<Option<String>> {
        let reply = self.request(&format!("GET {key}")).await?;
        if reply == "NONE" {
            return Ok(None);
        }
        match reply.strip_prefix("VALUE ") {
            Some(value) => Ok(Some(value.to_owned())),
            None => Err(io::Error::other(reply.to_owned())),
        }
    }

    /// `SET key value`.
    ///
    /// # Errors
    ///
    /// As [`request`](Client::request); an `ERR` reply is [`io::ErrorKind::Other`].
    pub async fn set(&mut self, key: &str, value: &str) -> io::Result<()> {
        match self.request(&format!("SET {key} {value}")).await? {
            "OK" => Ok(()),
            reply => Err(io::Error::other(reply.to_owned())),
        }
    }

    /// Closes the connection.
    ///
    /// # Errors
    ///
    /// The I/O error of closing.
    pub async fn close(mut self) -> io::Result<()> {
        self.connection.get_mut().close().await
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
