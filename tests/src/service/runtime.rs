//! The little the service needs from a runtime: spawn a task, listen on and connect to TCP.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};

/// A TCP connection as a futures-io byte stream.
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Connection for T {}

/// A boxed [`Connection`], whatever the runtime.
pub type BoxConnection = Box<dyn Connection>;

/// A bound TCP listener.
pub trait Listener: Send + Sync + 'static {
    /// The address it listens on (with the port the OS chose for port 0).
    ///
    /// # Errors
    ///
    /// The OS error, if the socket cannot report its address.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Waits for the next incoming connection.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes accepts nothing.
    fn accept(&self) -> BoxFuture<'_, io::Result<BoxConnection>>;
}

/// Spawn and TCP, the only runtime services the example uses; one implementation per runtime.
///
/// Every capability crate is runtime-agnostic and spawns nothing; only the service around
/// them needs this, to run connection handlers and workers in parallel.
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name, for the summary.
    fn name(&self) -> &'static str;

    /// Runs `task` to completion in the background (detached).
    fn spawn(&self, task: BoxFuture<'static, ()>);

    /// Binds a TCP listener.
    fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;

    /// Opens a TCP connection.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConnection>>;
}

/// Spawns tasks on a [`Runtime`] and counts the ones still running, so a test can check that
/// nothing outlives the service.
#[derive(Clone)]
pub struct Tasks {
    runtime: Arc<dyn Runtime>,
    live: Arc<AtomicUsize>,
}

impl Tasks {
    /// Spawns on `runtime`.
    pub fn new(runtime: Arc<dyn Runtime>) -> Self {
        Self { runtime, live: Arc::new(AtomicUsize::new(0)) }
    }

    /// The runtime tasks are spawned on.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Spawns `task`; the returned [`Joined`] completes when it has finished.
    ///
    /// Dropping the [`Joined`] detaches the task; it still counts as live until it ends.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> Joined {
        self.spawn_holding((), task)
    }

    /// Spawns `task` and keeps `held` until the task no longer counts as live: whoever waits
    /// for `held` to be dropped (a channel's last sender, say) then sees [`Tasks::live`]
    /// without it, on a multi-threaded runtime too.
    pub fn spawn_holding<T: Send + 'static>(
        &self,
        held: T,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> Joined {
        let (done, joined) = oneshot::channel();
        let live = LiveGuard::new(&self.live);
        self.runtime.spawn(Box::pin(async move {
            task.await;
            // In this order: a task seen ended (joined, or `held` gone) no longer counts as live.
            drop(live);
            let _ = done.send(());
            drop(held);
        }));
        Joined(joined)
    }

    /// How many spawned tasks have not finished yet.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("runtime", &self.runtime.name())
            .field("live", &self.live())
            .finish()
    }
}

/// Completes when a task spawned by [`Tasks::spawn`] has ended: `true` if it ran to the end,
/// `false` if it panicked or its runtime dropped it.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Joined(oneshot::Receiver<()>);

impl Future for Joined {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        Pin::new(&mut self.0).poll(cx).map(|done| done.is_ok())
    }
}

struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(live))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// tokio: `tokio::spawn` and `tokio::net`, bridged to futures-io. Needs a tokio runtime with
/// I/O enabled around it.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

#[cfg(feature = "tokio")]
mod tokio_impl {
    use super::*;

    /// tokio's `TcpStream` speaking futures-io.
    struct TokioStream(::tokio::net::TcpStream);

    impl AsyncRead for TokioStream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let mut buf = ::tokio::io::ReadBuf::new(buf);
            match ::tokio::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    impl AsyncWrite for TokioStream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            ::tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            ::tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
        }

        fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            ::tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
        }
    }

    struct TokioListener(::tokio::net::TcpListener);

    impl Listener for TokioListener {
        fn local_addr(&self) -> io::Result<SocketAddr> {
            self.0.local_addr()
        }

        fn accept(&self) -> BoxFuture<'_, io::Result<BoxConnection>> {
            Box::pin(async move {
                let (stream, _) = self.0.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(TokioStream(stream)) as BoxConnection)
            })
        }
    }

    impl Runtime for Tokio {
        fn name(&self) -> &'static str {
            "tokio"
        }

        fn spawn(&self, task: BoxFuture<'static, ()>) {
            drop(::tokio::spawn(task));
        }

        fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
            Box::pin(async move {
                let listener = ::tokio::net::TcpListener::bind(addr).await?;
                Ok(Box::new(TokioListener(listener)) as Box<dyn Listener>)
            })
        }

        fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConnection>> {
            Box::pin(async move {
                let stream = ::tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(TokioStream(stream)) as BoxConnection)
            })
        }
    }
}

/// smol: `smol::spawn` and `smol::net`, which speak futures-io already.
#[cfg(feature = "smol")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

#[cfg(feature = "smol")]
mod smol_impl {
    use super::*;

    struct SmolListener(::smol::net::TcpListener);

    impl Listener for SmolListener {
        fn local_addr(&self) -> io::Result<SocketAddr> {
            self.0.local_addr()
        }

        fn accept(&self) -> BoxFuture<'_, io::Result<BoxConnection>> {
            Box::pin(async move {
                let (stream, _) = self.0.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as BoxConnection)
            })
        }
    }

    impl Runtime for Smol {
        fn name(&self) -> &'static str {
            "smol"
        }

        fn spawn(&self, task: BoxFuture<'static, ()>) {
            ::smol::spawn(task).detach();
        }

        fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
            Box::pin(async move {
                let listener = ::smol::net::TcpListener::bind(addr).await?;
                Ok(Box::new(SmolListener(listener)) as Box<dyn Listener>)
            })
        }

        fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConnection>> {
            Box::pin(async move {
                let stream = ::smol::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as BoxConnection)
            })
        }
    }
}

/// async-std: `async_std::task::spawn` and `async_std::net`.
#[cfg(feature = "async-std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

#[cfg(feature = "async-std")]
mod async_std_impl {
    use super::*;

    struct AsyncStdListener(::async_std::net::TcpListener);

    impl Listener for AsyncStdListener {
        fn local_addr(&self) -> io::Result<SocketAddr> {
            self.0.local_addr()
        }

        fn accept(&self) -> BoxFuture<'_, io::Result<BoxConnection>> {
            Box::pin(async move {
                let (stream, _) = self.0.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as BoxConnection)
            })
        }
    }

    impl Runtime for AsyncStd {
        fn name(&self) -> &'static str {
            "async-std"
        }

        fn spawn(&self, task: BoxFuture<'static, ()>) {
            drop(::async_std::task::spawn(task));
        }

        fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
            Box::pin(async move {
                let listener = ::async_std::net::TcpListener::bind(addr).await?;
                Ok(Box::new(AsyncStdListener(listener)) as Box<dyn Listener>)
            })
        }

        fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<BoxConnection>> {
            Box::pin(async move {
                let stream = ::async_std::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as BoxConnection)
            })
        }
    }
}
