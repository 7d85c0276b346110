//! The names the config may not set in `hotconf exec`'s child environment, whatever
//! `--env-prefix` is: whoever writes the config must not choose the binary that runs, the
//! libraries it loads or the code its shell or interpreter runs first.

/// Exact names a flattened config key never sets (the child keeps hotconf's own value, if
/// any):
/// - glibc's list of variables it ignores in set-user-ID programs (besides `LD_*`): they load
///   shared objects (`GCONV_PATH`), run programs (`GETCONF_DIR`), tune or trace the allocator,
///   redirect name resolution or message catalogues;
/// - the shell's: the command search path, the startup files of `sh` and `bash` (`ENV`,
///   `BASH_ENV`), word splitting, the home and login shell, traced and prompt commands;
/// - the interpreters' module paths and startup options (Python, Node.js, Perl, Ruby, the JVM),
///   each of which runs code of the config's choosing.
pub(crate) const DENIED: &[&str] = &[
    // glibc (elf/dl-support, sysdeps/generic/unsecvars.h)
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
    // shells
    "PATH",
    "HOME",
    "SHELL",
    "IFS",
    "ENV",
    "BASH_ENV",
    "CDPATH",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    // interpreters
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
];

/// Name prefixes a flattened config key never sets: the dynamic loaders' (`LD_PRELOAD`,
/// `LD_LIBRARY_PATH`, `LD_AUDIT`, … on Linux; `DYLD_*` on macOS).
pub(crate) const DENIED_PREFIXES: &[&str] = &["LD_", "DYLD_"];

/// Whether a config key may not have the environment variable `name`.
pub(crate) fn is_denied(name: &str) -> bool {
    DENIED.contains(&name) || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `--env-prefix`: not empty, so that the config's names cannot be any name at all.
pub(crate) fn parse_prefix(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(
            "the prefix must not be empty: the config would choose every variable of \
             the program's environment (try APP_)"
                .into(),
        );
    }
    Ok(text.to_owned())
}

/// `env` without the denied names, and the names left out (in `env`'s order).
pub(crate) fn allowed(env: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let (denied, allowed): (Vec<_>, Vec<_>) =
        env.iter().cloned().partition(|(name, _)| is_denied(name));
    (allowed, denied.into_iter().map(|(name, _)| name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_shell_and_interpreter_names_are_denied_others_kept() {
        let env: Vec<(String, String)> = [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "BASH_ENV",
            "APP_PATH",
            "ld_preload",
            "PYTHONPATH",
            "APP_DB__HOST",
        ]
        .iter()
        .map(|name| (name.to_string(), "v".to_string()))
        .collect();
        let (kept, denied) = allowed(&env);
        let kept: Vec<&str> = kept.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(kept, ["APP_PATH", "ld_preload", "APP_DB__HOST"]);
        assert_eq!(
            denied,
            [
                "LD_PRELOAD",
                "LD_LIBRARY_PATH",
                "DYLD_INSERT_LIBRARIES",
                "PATH",
                "BASH_ENV",
                "PYTHONPATH"
            ]
        );
        assert!(parse_prefix("").is_err());
        assert_eq!(parse_prefix("APP_"), Ok("APP_".into()));
    }
}
