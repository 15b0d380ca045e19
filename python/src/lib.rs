//! `fbench` for Python: the consumer library of `fbench run --consumer-cmd`, the same Rust
//! code as a Rust consumer's (`fbench_harness::runner::external::Consumer`), with each frame
//! lent to Python as a read-only numpy view of the shared-memory slot (no copy).
//!
//! ```python
//! import fbench
//! with fbench.consumer() as frames:      # attaches using what the harness passed
//!     for frame in frames:               # waits for the next frame (GIL released), measured
//!         detect(frame.array)            # read-only numpy view, H x W x C uint8, no copy
//! ```
//!
//! # Views and release
//!
//! A frame is released when the loop asks for the next one, or when the `with` ends. A
//! numpy view of a frame points into a slot the writer reuses once the frame is released,
//! so fbench **refuses to release a frame while a view of it is alive**: it raises
//! `BufferError` (as `multiprocessing.shared_memory` does when closed with live views) and
//! keeps the frame held. Every view's numpy base is the frame's lease object, so the lease's
//! reference count is exactly "ours + live views" (derived views such as `a[::2]` point at
//! the same base). Keep what outlives an iteration as a copy (`frame.array.copy()`) or
//! `del` the view before the loop advances. The lease also keeps the consumer, and with it
//! the mapping, alive: a view can never outlive its segment (numpy issue 18294).
//!
//! fbench's segments are never registered with Python's `multiprocessing` resource
//! tracker (it is not used at all), so nothing unlinks them behind the harness's back
//! (CPython issue 82300): the harness creates and removes them.

use fbench_harness::runner::external::{Consumer as Attached, RunInfo};
use numpy::ndarray::{ArrayView, IxDyn};
use numpy::PyArray;
use pyo3::exceptions::{PyBufferError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A value handed across `Python::detach`, which wants `Send` so that nothing tied to the
/// GIL is used without it. SAFETY of the `Send` below: `detach` runs its closure on the
/// calling thread, synchronously, and what crosses holds no Python object.
struct OnThisThread<T>(T);

// SAFETY: see the type's doc: the value never leaves the calling thread.
unsafe impl<T> Send for OnThisThread<T> {}

impl<T> OnThisThread<T> {
    /// Taking `self` whole makes a closure capture the wrapper, not its (non-`Send`) field.
    fn into_inner(self) -> T {
        self.0
    }
}

/// The numpy base object of every view of one frame; alive while any view is.
#[pyclass(frozen, module = "fbench")]
struct Lease {
    /// Keeps the consumer, and so the mapped segment, alive while a view exists.
    #[allow(dead_code)]
    consumer: Py<Consumer>,
}

/// A consumer of an fbench run: iterate it for frames. Made by `fbench.consumer()`.
#[pyclass(unsendable, module = "fbench")]
struct Consumer {
    attached: Option<Attached>,
    /// The held frame's lease, `None` when nothing is held.
    lease: Option<Py<Lease>>,
    /// Counts acquisitions, so that a `Frame` knows whether it is still the held one.
    generation: u64,
}

/// One held frame. Its `array` is valid until the frame is released.
#[pyclass(unsendable, module = "fbench")]
struct Frame {
    consumer: Py<Consumer>,
    generation: u64,
    /// Source sequence number, from 1 (gaps are frames this consumer did not see).
    #[pyo3(get)]
    seq: u64,
    /// The strategy's publication number, from 1.
    #[pyo3(get)]
    publish_seq: u64,
    /// CLOCK_MONOTONIC ns of the frame's due time on the source's schedule.
    #[pyo3(get)]
    capture_ns: u64,
}

fn closed() -> PyErr {
    PyRuntimeError::new_err("this fbench consumer is closed")
}

impl Consumer {
    /// Release the held frame, unless a view of it is alive.
    fn release(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(lease) = &self.lease {
            let views = lease.get_refcnt(py) - 1;
            if views > 0 {
                let seq = self
                    .attached
                    .as_ref()
                    .and_then(|a| a.held().map(|(meta, _)| meta.seq))
                    .unwrap_or_default();
                return Err(PyBufferError::new_err(format!(
                    "frame {seq} cannot be released: {views} numpy view(s) of it are still alive, and its slot is rewritten once released; copy what you keep (frame.array.copy()) or del the view before the loop moves on"
                )));
            }
        }
        self.lease = None;
        if let Some(attached) = self.attached.as_mut() {
            attached.release();
        }
        Ok(())
    }

    /// End the consumer: release, then send the figures (`report`) or not (an error ended
    /// it: the harness reports it crashed).
    fn end(&mut self, py: Python<'_>, report: bool) -> PyResult<()> {
        self.release(py)?;
        if let Some(mut attached) = self.attached.take() {
            if report {
                attached
                    .finish()
                    .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            } else {
                attached.abandon();
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Consumer {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Ends the consumer. Without an exception, its figures go to the harness; with one,
    /// they do not, and the harness reports the consumer crashed.
    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &mut self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.end(py, exc_type.is_none())?;
        Ok(false)
    }

    /// Release the held frame and send the figures to the harness (what the end of a
    /// `with` block does).
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.end(py, true)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Release the held frame, wait for a newer one (without the GIL) and hold it; ends the
    /// iteration when the run is over.
    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Frame>> {
        let py = slf.py();
        let mut this = slf.borrow_mut();
        this.release(py)?;
        let attached = this.attached.as_mut().ok_or_else(closed)?;
        let waiting = OnThisThread(attached as *mut Attached);
        // SAFETY: the pointer is to the consumer borrowed mutably above (`this`), which
        // stays borrowed, and so unmoved and unaliased, until `detach` returns.
        let got = py.detach(move || unsafe { (*waiting.into_inner()).acquire_next() });
        if !got {
            return Ok(None);
        }
        this.generation += 1;
        this.lease = Some(Py::new(
            py,
            Lease {
                consumer: slf.clone().unbind(),
            },
        )?);
        let (meta, _) = this
            .attached
            .as_ref()
            .and_then(Attached::held)
            .expect("held");
        Ok(Some(Frame {
            consumer: slf.clone().unbind(),
            generation: this.generation,
            seq: meta.seq,
            publish_seq: meta.publish_seq,
            capture_ns: meta.capture_ns,
        }))
    }

    /// What the harness said about the run: id, strategy, width, height, format, shape.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = self.attached.as_ref().ok_or_else(closed)?.info();
        info_dict(py, info)
    }

    /// Frames counted so far (captured in the measured window and released).
    #[getter]
    fn frames_seen(&self) -> PyResult<u64> {
        Ok(self.attached.as_ref().ok_or_else(closed)?.frames_seen())
    }
}

fn info_dict<'py>(py: Python<'py>, info: &RunInfo) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("id", info.id)?;
    dict.set_item("strategy", &info.strategy)?;
    dict.set_item("width", info.width)?;
    dict.set_item("height", info.height)?;
    dict.set_item("format", info.format.name())?;
    dict.set_item("frame_len", info.frame_len)?;
    dict.set_item("verify", info.verify.to_string())?;
    dict.set_item("shape", info.shape())?;
    Ok(dict)
}

#[pymethods]
impl Frame {
    /// The frame as a read-only numpy uint8 array viewing the shared slot in place:
    /// `(height, width, 3)` for rgb24/bgr24, `(height, width)` for gray, `(height * 3 // 2,
    /// width)` for nv12/i420 (see the README for every format). Raises `RuntimeError` once
    /// the frame was released.
    #[getter]
    fn array<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let consumer = self.consumer.bind(py).borrow();
        let lease = match &consumer.lease {
            Some(lease) if consumer.generation == self.generation => lease.clone_ref(py),
            _ => {
                return Err(PyRuntimeError::new_err(format!(
                    "frame {} was released (the loop moved on or the consumer closed): its slot may hold another frame now",
                    self.seq
                )))
            }
        };
        let attached = consumer.attached.as_ref().ok_or_else(closed)?;
        let (_, bytes) = attached.held().ok_or_else(closed)?;
        let shape = attached.info().shape();
        let view = ArrayView::from_shape(IxDyn(&shape), bytes)
            .map_err(|e| PyRuntimeError::new_err(format!("frame geometry: {e}")))?;
        // SAFETY: the view's memory is the held frame's slot, mapped for as long as the
        // consumer lives and not rewritten while the frame is held. The array's base is the
        // lease, which keeps the consumer alive, and the consumer never releases the frame
        // while the lease has references besides its own (`Consumer::release`).
        let array = unsafe {
            PyArray::<u8, IxDyn>::borrow_from_array(&view, lease.into_bound(py).into_any())
        };
        let kwargs = PyDict::new(py);
        kwargs.set_item("write", false)?;
        array.call_method("setflags", (), Some(&kwargs))?;
        Ok(array.into_any())
    }

    fn __repr__(&self) -> String {
        format!(
            "<fbench.Frame seq={} publish_seq={} capture_ns={}>",
            self.seq, self.publish_seq, self.capture_ns
        )
    }
}

/// Attach to the fbench run that started this process (`fbench run --consumer-cmd`), from
/// the environment the harness set. Returns once the run starts (the start barrier), with
/// the GIL released while waiting.
#[pyfunction]
fn consumer(py: Python<'_>) -> PyResult<Consumer> {
    let attached = py
        .detach(|| OnThisThread(Attached::from_env()))
        .into_inner()
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(Consumer {
        attached: Some(attached),
        lease: None,
        generation: 0,
    })
}

#[pymodule]
fn fbench(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(consumer, m)?)?;
    m.add_class::<Consumer>()?;
    m.add_class::<Frame>()?;
    m.add(
        "ENV_CONSUMER",
        fbench_harness::runner::external::ENV_CONSUMER,
    )?;
    Ok(())
}
