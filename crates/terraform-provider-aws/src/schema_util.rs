//! Short constructors for provider schemas.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock,
};

pub use AttributeConstraint::{Computed, Optional, OptionalComputed, Required};

pub fn attr(attr_type: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::plain(doc),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

pub fn string(constraint: AttributeConstraint, doc: &str) -> Attribute {
    attr(AttributeType::String, constraint, doc)
}

pub fn boolean(constraint: AttributeConstraint, doc: &str) -> Attribute {
    attr(AttributeType::Bool, constraint, doc)
}

pub fn string_map(constraint: AttributeConstraint, doc: &str) -> Attribute {
    attr(
        AttributeType::Map(Box::new(AttributeType::String)),
        constraint,
        doc,
    )
}

pub fn block(
    doc: &str,
    attributes: Vec<(&str, Attribute)>,
    blocks: Vec<(&str, NestedBlock)>,
) -> Block {
    Block {
        version: 0,
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<HashMap<_, _>>(),
        blocks: blocks
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        description: Description::plain(doc),
        deprecated: false,
    }
}
