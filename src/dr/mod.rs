//! The orchestrator. Data flows one way: the live state is observed (`observe`, `view`), the
//! phases left are planned (`planner`) from the table of phases (`phase`), each phase becomes a
//! list of actions (`decide`), the runner carries them out (`run`) and gates each on AWS
//! (`gate`); its only output is events (`events`), of which the report is a pure function
//! (`report`).

pub mod audit;
pub mod confirm;
pub mod context;
pub mod decide;
pub mod error;
pub mod events;
pub mod evidence;
pub mod gate;
pub mod measure;
pub mod next;
pub mod observe;
pub mod pending;
pub mod phase;
pub mod planner;
pub mod position;
pub mod report;
pub mod risk;
pub mod round;
pub mod run;
pub mod status;
pub mod view;
pub mod writes;

pub use error::DrError;
