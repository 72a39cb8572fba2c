//! `make crds`: writes every CRD to each folder given (deploy/crds, the Helm chart's crds/), and
//! the generated reference to docs/crd-reference.md.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: write-crds <dir>...");
        return ExitCode::FAILURE;
    }
    for (file, crd) in emr_api::crd::all() {
        let yaml = match emr_api::crd::to_yaml(&crd) {
            Ok(yaml) => yaml,
            Err(e) => {
                eprintln!("cannot render {file}: {e}");
                return ExitCode::FAILURE;
            }
        };
        for dir in &dirs {
            let path = dir.join(file);
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &yaml))
            {
                eprintln!("cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            println!("wrote {}", path.display());
        }
    }
    let crds: Vec<_> = emr_api::crd::all().into_iter().map(|(_, c)| c).collect();
    let reference = std::path::Path::new("docs/crd-reference.md");
    if let Err(e) = std::fs::create_dir_all("docs")
        .and_then(|()| std::fs::write(reference, emr_api::reference::markdown(&crds)))
    {
        eprintln!("cannot write {}: {e}", reference.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", reference.display());
    ExitCode::SUCCESS
}
