//! Run-time binding to Debian's PocketSphinx (`libpocketsphinx3`, `libsphinxbase3`, 0.8+5prealpha).
//!
//! The libraries are opened with libloading when the first decoder is made, so the server builds and starts on
//! a machine without them and only a route that needs PocketSphinx fails, with [`LoadError`] naming the
//! packages to install. No `-sys` crate binds this Debian release at run time, hence the hand-written table.
//!
//! Only the few entry points the decoder needs are bound; every signature below matches
//! `/usr/include/pocketsphinx/pocketsphinx.h` and `ps_search.h` of that release. `cmd_ln_parse_r` is used
//! instead of the variadic `cmd_ln_init`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::{Arc, OnceLock};

use libloading::Library;

/// The shared objects, by their Debian sonames.
const POCKETSPHINX_SONAME: &str = "libpocketsphinx.so.3";
const SPHINXBASE_SONAME: &str = "libsphinxbase.so.3";

/// Why the PocketSphinx libraries could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// A shared object is missing.
    #[error(
        "cannot load {soname} ({reason}); install the Debian packages libpocketsphinx3 and pocketsphinx-en-us"
    )]
    Library {
        /// The soname that failed to open.
        soname: &'static str,
        /// The loader's message.
        reason: String,
    },
    /// A symbol is missing: the installed release is not the one this binding was written for.
    #[error(
        "{soname} has no symbol {symbol}: PocketSphinx 0.8+5prealpha (Debian libpocketsphinx3) is required"
    )]
    Symbol {
        /// The library searched.
        soname: &'static str,
        /// The missing function.
        symbol: &'static str,
    },
}

type CmdLn = c_void;
type Decoder = c_void;

/// The function table. Pointers stay valid while `_libs` keeps both libraries open.
pub(super) struct Api {
    ps_args: unsafe extern "C" fn() -> *const c_void,
    cmd_ln_parse_r:
        unsafe extern "C" fn(*mut CmdLn, *const c_void, i32, *mut *mut c_char, i32) -> *mut CmdLn,
    cmd_ln_free_r: unsafe extern "C" fn(*mut CmdLn) -> c_int,
    ps_init: unsafe extern "C" fn(*mut CmdLn) -> *mut Decoder,
    ps_free: unsafe extern "C" fn(*mut Decoder) -> c_int,
    ps_add_word: unsafe extern "C" fn(*mut Decoder, *const c_char, *const c_char, c_int) -> c_int,
    ps_set_jsgf_string: unsafe extern "C" fn(*mut Decoder, *const c_char, *const c_char) -> c_int,
    ps_set_search: unsafe extern "C" fn(*mut Decoder, *const c_char) -> c_int,
    ps_start_utt: unsafe extern "C" fn(*mut Decoder) -> c_int,
    ps_process_raw: unsafe extern "C" fn(*mut Decoder, *const i16, usize, c_int, c_int) -> c_int,
    ps_end_utt: unsafe extern "C" fn(*mut Decoder) -> c_int,
    ps_get_hyp: unsafe extern "C" fn(*mut Decoder, *mut i32) -> *const c_char,
    ps_get_prob: unsafe extern "C" fn(*mut Decoder) -> i32,
    ps_get_logmath: unsafe extern "C" fn(*mut Decoder) -> *mut c_void,
    logmath_exp: unsafe extern "C" fn(*mut c_void, i32) -> f64,
    _libs: (Library, Library),
}

impl Api {
    /// The process-wide binding, loaded once. The error is cached too: the libraries do not appear while the
    /// process runs.
    pub(super) fn get() -> Result<Arc<Api>, LoadError> {
        static API: OnceLock<Result<Arc<Api>, LoadError>> = OnceLock::new();
        API.get_or_init(|| Api::load().map(Arc::new)).clone()
    }

    fn load() -> Result<Api, LoadError> {
        let open = |soname: &'static str| {
            // SAFETY: loading a shared object runs its initialisers; sphinxbase and pocketsphinx have no
            // initialisers with preconditions.
            unsafe { Library::new(soname) }.map_err(|e| LoadError::Library {
                soname,
                reason: e.to_string(),
            })
        };
        // sphinxbase first so pocketsphinx's dependency resolves to the same copy.
        let base = open(SPHINXBASE_SONAME)?;
        let ps = open(POCKETSPHINX_SONAME)?;
        macro_rules! sym {
            ($lib:expr, $soname:expr, $name:literal) => {{
                // SAFETY: the type of the field this initialises is the C prototype of `$name` in the
                // 5prealpha headers (see the module docs).
                let s = unsafe { $lib.get(concat!($name, "\0").as_bytes()) }
                    .map_err(|_| LoadError::Symbol { soname: $soname, symbol: $name })?;
                *s
            }};
        }
        let api = Api {
            ps_args: sym!(ps, POCKETSPHINX_SONAME, "ps_args"),
            cmd_ln_parse_r: sym!(base, SPHINXBASE_SONAME, "cmd_ln_parse_r"),
            cmd_ln_free_r: sym!(base, SPHINXBASE_SONAME, "cmd_ln_free_r"),
            ps_init: sym!(ps, POCKETSPHINX_SONAME, "ps_init"),
            ps_free: sym!(ps, POCKETSPHINX_SONAME, "ps_free"),
            ps_add_word: sym!(ps, POCKETSPHINX_SONAME, "ps_add_word"),
            ps_set_jsgf_string: sym!(ps, POCKETSPHINX_SONAME, "ps_set_jsgf_string"),
            ps_set_search: sym!(ps, POCKETSPHINX_SONAME, "ps_set_search"),
            ps_start_utt: sym!(ps, POCKETSPHINX_SONAME, "ps_start_utt"),
            ps_process_raw: sym!(ps, POCKETSPHINX_SONAME, "ps_process_raw"),
            ps_end_utt: sym!(ps, POCKETSPHINX_SONAME, "ps_end_utt"),
            ps_get_hyp: sym!(ps, POCKETSPHINX_SONAME, "ps_get_hyp"),
            ps_get_prob: sym!(ps, POCKETSPHINX_SONAME, "ps_get_prob"),
            ps_get_logmath: sym!(ps, POCKETSPHINX_SONAME, "ps_get_logmath"),
            logmath_exp: sym!(base, SPHINXBASE_SONAME, "logmath_exp"),
            _libs: (base, ps),
        };
        Ok(api)
    }
}

/// A call into PocketSphinx returned an error code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("pocketsphinx {call} failed")]
pub struct CallError {
    /// The C function that failed.
    pub call: &'static str,
}

/// One `ps_decoder_t`, owned. Not `Sync`: PocketSphinx decoders are single-threaded, so a decoder is used by
/// one blocking task at a time and moved between them.
pub(super) struct RawDecoder {
    api: Arc<Api>,
    ps: NonNull<Decoder>,
}

// SAFETY: a ps_decoder_t has no thread affinity; it must only not be used from two threads at once, which
// `&mut self` on every call guarantees (`RawDecoder` is not `Sync`).
unsafe impl Send for RawDecoder {}

fn cstring(s: &str, call: &'static str) -> Result<CString, CallError> {
    CString::new(s).map_err(|_| CallError { call })
}

impl RawDecoder {
    /// `ps_init` with command-line style arguments (`-hmm DIR -dict FILE …`).
    pub(super) fn new(api: Arc<Api>, args: &[(&str, &str)]) -> Result<RawDecoder, CallError> {
        const CALL: &str = "ps_init";
        let owned: Vec<CString> = args
            .iter()
            .flat_map(|(k, v)| [*k, *v])
            .map(|s| cstring(s, CALL))
            .collect::<Result<_, _>>()?;
        let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr().cast_mut()).collect();
        let argc = i32::try_from(argv.len()).map_err(|_| CallError { call: CALL })?;
        // SAFETY: `argv` points at `argc` NUL-terminated strings that outlive the call; cmd_ln_parse_r copies
        // what it keeps. A NULL `inout` asks it to allocate a new cmd_ln_t.
        let config = unsafe {
            (api.cmd_ln_parse_r)(ptr::null_mut(), (api.ps_args)(), argc, argv.as_mut_ptr(), 1)
        };
        if config.is_null() {
            return Err(CallError {
                call: "cmd_ln_parse_r",
            });
        }
        // SAFETY: `config` is a valid cmd_ln_t; ps_init retains its own reference, so ours is released after.
        let ps = unsafe { (api.ps_init)(config) };
        // SAFETY: releases the reference cmd_ln_parse_r gave us.
        unsafe { (api.cmd_ln_free_r)(config) };
        let ps = NonNull::new(ps).ok_or(CallError { call: CALL })?;
        Ok(RawDecoder { api, ps })
    }

    fn check(rv: c_int, call: &'static str) -> Result<(), CallError> {
        if rv < 0 {
            Err(CallError { call })
        } else {
            Ok(())
        }
    }

    /// `ps_add_word`: adds a pronunciation (phones separated by spaces); `update` rebuilds the search.
    pub(super) fn add_word(
        &mut self,
        word: &str,
        phones: &str,
        update: bool,
    ) -> Result<(), CallError> {
        const CALL: &str = "ps_add_word";
        let (w, p) = (cstring(word, CALL)?, cstring(phones, CALL)?);
        // SAFETY: valid decoder and NUL-terminated strings; the decoder copies them.
        let rv = unsafe {
            (self.api.ps_add_word)(
                self.ps.as_ptr(),
                w.as_ptr(),
                p.as_ptr(),
                c_int::from(update),
            )
        };
        Self::check(rv, CALL)
    }

    /// `ps_set_jsgf_string`: compiles a JSGF grammar into a named search.
    pub(super) fn set_jsgf(&mut self, name: &str, jsgf: &str) -> Result<(), CallError> {
        const CALL: &str = "ps_set_jsgf_string";
        let (n, g) = (cstring(name, CALL)?, cstring(jsgf, CALL)?);
        // SAFETY: valid decoder and NUL-terminated strings; the grammar is parsed during the call.
        let rv = unsafe { (self.api.ps_set_jsgf_string)(self.ps.as_ptr(), n.as_ptr(), g.as_ptr()) };
        Self::check(rv, CALL)
    }

    /// `ps_set_search`: makes a named search the active one.
    pub(super) fn set_search(&mut self, name: &str) -> Result<(), CallError> {
        const CALL: &str = "ps_set_search";
        let n = cstring(name, CALL)?;
        // SAFETY: valid decoder and NUL-terminated string.
        let rv = unsafe { (self.api.ps_set_search)(self.ps.as_ptr(), n.as_ptr()) };
        Self::check(rv, CALL)
    }

    /// `ps_start_utt`.
    pub(super) fn start_utt(&mut self) -> Result<(), CallError> {
        // SAFETY: valid decoder.
        Self::check(
            unsafe { (self.api.ps_start_utt)(self.ps.as_ptr()) },
            "ps_start_utt",
        )
    }

    /// `ps_process_raw` on 16-bit PCM at the decoder's sample rate; `full_utterance` says the samples are the
    /// whole utterance, so cepstral normalisation can use all of it.
    pub(super) fn process_raw(
        &mut self,
        samples: &[i16],
        full_utterance: bool,
    ) -> Result<(), CallError> {
        let full = c_int::from(full_utterance);
        // SAFETY: valid decoder; `samples` is readable for its length during the call.
        let rv = unsafe {
            (self.api.ps_process_raw)(self.ps.as_ptr(), samples.as_ptr(), samples.len(), 0, full)
        };
        Self::check(rv, "ps_process_raw")
    }

    /// `ps_end_utt`.
    pub(super) fn end_utt(&mut self) -> Result<(), CallError> {
        // SAFETY: valid decoder.
        Self::check(
            unsafe { (self.api.ps_end_utt)(self.ps.as_ptr()) },
            "ps_end_utt",
        )
    }

    /// `ps_get_hyp`: the best hypothesis so far, or `None` when nothing was recognized.
    pub(super) fn hypothesis(&mut self) -> Option<String> {
        let mut score = 0i32;
        // SAFETY: valid decoder; the returned string is owned by the decoder and copied before the next call.
        let hyp = unsafe { (self.api.ps_get_hyp)(self.ps.as_ptr(), &mut score) };
        if hyp.is_null() {
            return None;
        }
        // SAFETY: non-NULL results of ps_get_hyp are NUL-terminated.
        let text = unsafe { CStr::from_ptr(hyp) }
            .to_string_lossy()
            .trim()
            .to_owned();
        (!text.is_empty()).then_some(text)
    }

    /// The posterior probability of the best hypothesis (`ps_get_prob` through `logmath_exp`), 0.0–1.0.
    pub(super) fn posterior(&mut self) -> f64 {
        // SAFETY: valid decoder; the logmath object is owned by the decoder.
        let p = unsafe {
            let prob = (self.api.ps_get_prob)(self.ps.as_ptr());
            let lmath = (self.api.ps_get_logmath)(self.ps.as_ptr());
            if lmath.is_null() {
                0.0
            } else {
                (self.api.logmath_exp)(lmath, prob)
            }
        };
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Drop for RawDecoder {
    fn drop(&mut self) {
        // SAFETY: we own the only reference to this decoder.
        unsafe { (self.api.ps_free)(self.ps.as_ptr()) };
    }
}
