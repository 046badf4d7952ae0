//! The OpenAPI 3.1 document of a service's `http` and `rest` routes, served
//! at `GET /_evently/openapi.json`.
//!
//! Paths, methods and path parameters come from the block. What each
//! handler reads and answers comes from its types: every extractor and
//! every response type describes itself, and the schemas of `Json<T>`
//! bodies and `Query<T>` and `Path<T>` parameters are traced from `T`'s
//! `Deserialize` implementation with `serde-reflection`, as the SOAP WSDL
//! is, so they follow serde's renames and users derive nothing more.
//! Response bodies are only `Serialize`, which cannot be traced without a
//! value: they are described by their content type.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use serde_reflection::{ContainerFormat, Format, Named, Registry, Samples, Tracer, TracerConfig};

use crate::topology::{Binding, Protocol};

/// What one handler reads and answers, gathered from its parameter and
/// return types.
#[doc(hidden)]
pub struct Describe {
    tracer: Tracer,
    operation: Operation,
}

#[derive(Default)]
struct Operation {
    /// The payload an AMQP handler decodes.
    message: Option<Format>,
    body: Option<Content>,
    query: Vec<Format>,
    path: Option<Format>,
    /// Status (`"200"`, `"4XX"`, `"default"`) to content types; an empty
    /// content type is a response without a body.
    responses: BTreeMap<String, Vec<&'static str>>,
}

struct Content {
    content_type: &'static str,
    schema: Option<Format>,
    required: bool,
}

impl Describe {
    fn new() -> Self {
        Describe {
            tracer: Tracer::new(TracerConfig::default()),
            operation: Operation::default(),
        }
    }

    /// Traces `T`. An enum at the top of `T` is walked variant by variant;
    /// one nested inside is met only once, with one variant, and is left
    /// incomplete.
    fn trace<T: DeserializeOwned>(&mut self) -> Option<Format> {
        let samples = Samples::new();
        match self.tracer.trace_type::<T>(&samples) {
            Ok((format, _)) => Some(format),
            Err(error) => {
                tracing::debug!(
                    r#type = std::any::type_name::<T>(),
                    error = %error,
                    "no OpenAPI schema for a type that cannot be traced"
                );
                None
            }
        }
    }

    /// The request body is JSON decoded into `T`.
    pub fn json_body<T: DeserializeOwned>(&mut self) {
        let schema = self.trace::<T>();
        self.operation.body = Some(Content {
            content_type: "application/json",
            schema,
            required: true,
        });
        // What decoding refuses.
        for status in ["400", "415", "422"] {
            self.response(status, "application/problem+json");
        }
    }

    /// An AMQP handler decodes its message's JSON payload into `T`.
    pub fn message<T: DeserializeOwned>(&mut self) {
        self.operation.message = self.trace::<T>();
    }

    /// The request body is read whole, as `content_type`.
    pub fn raw_body(&mut self, content_type: &'static str) {
        self.operation.body = Some(Content {
            content_type,
            schema: None,
            required: true,
        });
    }

    /// The query string is decoded into `T`'s fields.
    pub fn query<T: DeserializeOwned>(&mut self) {
        if let Some(format) = self.trace::<T>() {
            self.operation.query.push(format);
        }
        self.response("400", "application/problem+json");
    }

    /// The path parameters are decoded into `T`.
    pub fn path<T: DeserializeOwned>(&mut self) {
        self.operation.path = self.trace::<T>();
        self.response("400", "application/problem+json");
    }

    /// Whatever the last extractor described as its body is optional.
    pub fn optional_body(&mut self) {
        if let Some(body) = &mut self.operation.body {
            body.required = false;
        }
    }

    /// The handler may answer with `status` (`"200"`, `"4XX"`, `"default"`)
    /// and a body of `content_type` (`""` for none).
    pub fn response(&mut self, status: &str, content_type: &'static str) {
        let types = self
            .operation
            .responses
            .entry(status.to_owned())
            .or_default();
        if !types.contains(&content_type) {
            types.push(content_type);
        }
    }

    /// Describes `describe`'s responses, all with a status set at run time.
    pub fn with_any_status(&mut self, describe: impl FnOnce(&mut Describe)) {
        let before = std::mem::take(&mut self.operation.responses);
        describe(self);
        let described = std::mem::replace(&mut self.operation.responses, before);
        for content_type in described.into_values().flatten() {
            self.response("default", content_type);
        }
    }
}

/// Describes one handler.
pub(crate) type DescribeFn = fn(&mut Describe);

/// The OpenAPI document of `routes`: each `http` or `rest` binding with the
/// function that describes its handler.
/// What the handlers of `routes` were traced to: each binding's operation,
/// and the schemas of the named types they use.
struct Traced {
    operations: Vec<(&'static Binding, Operation)>,
    registry: Registry,
    /// Enums that could not be walked whole.
    incomplete: BTreeSet<String>,
}

fn trace_all(routes: &[(&'static Binding, DescribeFn)]) -> Traced {
    let trace = || {
        let mut describe = Describe::new();
        let mut operations = Vec::new();
        for (binding, describe_handler) in routes {
            describe.operation = Operation::default();
            describe_handler(&mut describe);
            let operation = std::mem::take(&mut describe.operation);
            operations.push((*binding, operation));
        }
        (operations, describe.tracer)
    };
    // Enums the tracer could not walk whole get a schema that accepts
    // anything rather than one that lists only some variants. The registry
    // that names them is gone with its tracer, so the types are traced
    // again for the rest, the same way.
    let (operations, tracer) = trace();
    let (operations, registry, incomplete) = match tracer.registry() {
        Ok(registry) => (operations, registry, BTreeSet::new()),
        Err(serde_reflection::Error::MissingVariants(names)) => {
            let (operations, tracer) = trace();
            let names: BTreeSet<String> = names.into_iter().collect();
            (operations, tracer.registry_unchecked(), names)
        }
        Err(error) => {
            tracing::debug!(error = %error, "the schemas are left out");
            (operations, Registry::new(), BTreeSet::new())
        }
    };
    Traced {
        operations,
        registry,
        incomplete,
    }
}

impl Traced {
    /// The schemas of the named types, for `components.schemas`.
    fn schemas(&self) -> Map<String, Value> {
        let mut schemas = Map::new();
        for (name, container) in &self.registry {
            let schema = if self.incomplete.contains(name) {
                json!({ "description": "an enum whose variants could not all be traced" })
            } else {
                container_schema(container)
            };
            schemas.insert(name.clone(), schema);
        }
        schemas
    }
}

/// The payload schemas of AMQP handlers, by binding, with the schemas of
/// the named types they use.
pub(crate) fn message_schemas(
    handlers: &[(&'static Binding, DescribeFn)],
) -> (Vec<(&'static Binding, Value)>, Map<String, Value>) {
    let traced = trace_all(handlers);
    let payloads = traced
        .operations
        .iter()
        .filter_map(|(binding, operation)| Some((*binding, schema(operation.message.as_ref()?))))
        .collect();
    (payloads, traced.schemas())
}

pub(crate) fn document(
    title: &str,
    version: &str,
    routes: &[(&'static Binding, DescribeFn)],
) -> String {
    let traced = trace_all(routes);
    let (operations, registry) = (&traced.operations, &traced.registry);
    let mut paths = Map::new();
    for (binding, operation) in operations {
        let (Some(method), Some(path)) = (binding.method(), binding.path()) else {
            continue;
        };
        let item = paths
            .entry(openapi_path(path))
            .or_insert_with(|| Value::Object(Map::new()));
        let value = operation_object(binding, path, operation, registry);
        if let Value::Object(item) = item {
            item.insert(method.to_ascii_lowercase(), value);
        }
    }

    let mut schemas = traced.schemas();
    schemas.insert("Problem".to_owned(), problem_schema());

    let document = json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": version },
        "paths": paths,
        "components": { "schemas": schemas },
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// OpenAPI writes `{*rest}` as `{rest}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn operation_object(
    binding: &Binding,
    path: &str,
    operation: &Operation,
    registry: &Registry,
) -> Value {
    let mut object = Map::new();
    object.insert(
        "operationId".into(),
        binding.handler().replace("::", "_").into(),
    );
    let tag = if binding.protocol() == Protocol::Rest {
        "rest"
    } else {
        "http"
    };
    object.insert("tags".into(), json!([tag]));

    let mut parameters = Vec::new();
    let names: Vec<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect();
    let typed = operation
        .path
        .as_ref()
        .map(|format| path_schemas(format, &names, registry))
        .unwrap_or_default();
    for name in &names {
        let schema = typed
            .get(*name)
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }));
        parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
    }
    for format in &operation.query {
        for field in struct_fields(format, registry) {
            let required = !matches!(field.value, Format::Option(_));
            parameters.push(json!({
                "name": field.name,
                "in": "query",
                "required": required,
                "schema": schema(&field.value),
            }));
        }
    }
    if !parameters.is_empty() {
        object.insert("parameters".into(), parameters.into());
    }

    if let Some(body) = &operation.body {
        let schema = body.schema.as_ref().map_or_else(|| json!({}), schema);
        object.insert(
            "requestBody".into(),
            json!({
                "required": body.required,
                "content": { body.content_type: { "schema": schema } },
            }),
        );
    }

    // `once_finished` messages that the broker does not take turn the
    // answer into a 503.
    let mut statuses = operation.responses.clone();
    if binding
        .resources()
        .iter()
        .any(|r| matches!(r, crate::topology::Resource::Produce(_)))
    {
        statuses
            .entry("503".to_owned())
            .or_default()
            .push("application/problem+json");
    }
    let mut responses = Map::new();
    for (status, types) in &statuses {
        let mut content = Map::new();
        for content_type in types.iter().filter(|t| !t.is_empty()) {
            // `http` routes refuse in plain text.
            let content_type = match *content_type {
                "application/problem+json" if tag == "http" => "text/plain",
                other => other,
            };
            let schema = if content_type == "application/problem+json" {
                json!({ "$ref": "#/components/schemas/Problem" })
            } else {
                json!({})
            };
            content.insert(content_type.to_owned(), json!({ "schema": schema }));
        }
        let mut response = Map::new();
        response.insert("description".into(), describe_status(status).into());
        if !content.is_empty() {
            response.insert("content".into(), content.into());
        }
        responses.insert(status.clone(), response.into());
    }
    if responses.is_empty() {
        responses.insert(
            "default".into(),
            json!({ "description": "the handler's answer" }),
        );
    }
    object.insert("responses".into(), responses.into());
    object.into()
}

fn describe_status(status: &str) -> &'static str {
    match status {
        "200" => "success",
        "400" => "a malformed request",
        "415" => "the body is not of the expected content type",
        "422" => "the body does not fit the expected type; the problem names the field",
        "4XX" => "the handler refused the request",
        "5XX" => "the handler failed",
        "503" => "the message broker did not take the messages the request produced",
        _ => "the handler's answer",
    }
}

/// Each path parameter's schema: a struct names them, a tuple or a single
/// value takes them in order.
fn path_schemas(format: &Format, names: &[&str], registry: &Registry) -> BTreeMap<String, Value> {
    let fields = struct_fields(format, registry);
    if !fields.is_empty() {
        return fields
            .into_iter()
            .map(|f| (f.name.clone(), schema(&f.value)))
            .collect();
    }
    let values: Vec<&Format> = match format {
        Format::Tuple(items) => items.iter().collect(),
        other => vec![other],
    };
    names
        .iter()
        .zip(values)
        .map(|(name, value)| ((*name).to_owned(), schema(value)))
        .collect()
}

/// The fields of a struct's format, or nothing.
fn struct_fields<'a>(format: &Format, registry: &'a Registry) -> Vec<&'a Named<Format>> {
    let Format::TypeName(name) = format else {
        return Vec::new();
    };
    match registry.get(name) {
        Some(ContainerFormat::Struct(fields)) => fields.iter().collect(),
        _ => Vec::new(),
    }
}

/// The JSON Schema of a format.
fn schema(format: &Format) -> Value {
    match format {
        Format::TypeName(name) => json!({ "$ref": format!("#/components/schemas/{name}") }),
        Format::Unit => json!({ "type": "null" }),
        Format::Bool => json!({ "type": "boolean" }),
        Format::I8 | Format::I16 | Format::I32 => json!({ "type": "integer", "format": "int32" }),
        Format::I64 | Format::I128 => json!({ "type": "integer", "format": "int64" }),
        Format::U8 | Format::U16 | Format::U32 => json!({ "type": "integer", "minimum": 0 }),
        Format::U64 | Format::U128 => json!({ "type": "integer", "minimum": 0, "format": "int64" }),
        Format::F32 => json!({ "type": "number", "format": "float" }),
        Format::F64 => json!({ "type": "number", "format": "double" }),
        Format::Char => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
        Format::Str => json!({ "type": "string" }),
        Format::Bytes => json!({ "type": "array", "items": { "type": "integer" } }),
        Format::Option(inner) => json!({ "anyOf": [schema(inner), { "type": "null" }] }),
        Format::Seq(inner) => json!({ "type": "array", "items": schema(inner) }),
        Format::Map { value, .. } => {
            json!({ "type": "object", "additionalProperties": schema(value) })
        }
        Format::Tuple(items) => json!({
            "type": "array",
            "prefixItems": items.iter().map(schema).collect::<Vec<_>>(),
            "minItems": items.len(),
            "maxItems": items.len(),
        }),
        Format::TupleArray { content, size } => json!({
            "type": "array",
            "items": schema(content),
            "minItems": size,
            "maxItems": size,
        }),
        Format::Variable(_) => json!({}),
    }
}

/// The JSON Schema of a named type, as serde's JSON format writes it.
fn container_schema(container: &ContainerFormat) -> Value {
    match container {
        ContainerFormat::UnitStruct => json!({ "type": "null" }),
        ContainerFormat::NewTypeStruct(inner) => schema(inner),
        ContainerFormat::TupleStruct(items) => schema(&Format::Tuple(items.clone())),
        ContainerFormat::Struct(fields) => object_schema(fields),
        ContainerFormat::Enum(variants) => {
            let mut units = Vec::new();
            let mut others = Vec::new();
            for variant in variants.values() {
                let name = variant.name.clone();
                match &variant.value {
                    serde_reflection::VariantFormat::Unit => units.push(Value::from(name)),
                    serde_reflection::VariantFormat::NewType(inner) => {
                        others.push(tagged(&name, schema(inner)));
                    }
                    serde_reflection::VariantFormat::Tuple(items) => {
                        others.push(tagged(&name, schema(&Format::Tuple(items.clone()))));
                    }
                    serde_reflection::VariantFormat::Struct(fields) => {
                        others.push(tagged(&name, object_schema(fields)));
                    }
                    serde_reflection::VariantFormat::Variable(_) => others.push(json!({})),
                }
            }
            if !units.is_empty() {
                others.insert(0, json!({ "enum": units }));
            }
            if others.len() == 1 {
                others.remove(0)
            } else {
                json!({ "oneOf": others })
            }
        }
    }
}

/// An externally tagged variant: `{"Name": value}`.
fn tagged(name: &str, value: Value) -> Value {
    json!({
        "type": "object",
        "properties": { name: value },
        "required": [name],
        "additionalProperties": false,
    })
}

fn object_schema(fields: &[Named<Format>]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields {
        properties.insert(field.name.clone(), schema(&field.value));
        if !matches!(field.value, Format::Option(_)) {
            required.push(Value::from(field.name.clone()));
        }
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

/// What `application/problem+json` answers carry.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "field": { "type": "string", "description": "the field a 422 is about" },
        },
        "required": ["title", "status"],
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Size {
        Small,
        Large,
        Custom { width: u32 },
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Order {
        #[serde(rename = "itemName")]
        item: String,
        sizes: Vec<Size>,
        note: Option<String>,
        price: f64,
    }

    fn describe_order(describe: &mut Describe) {
        describe.json_body::<Order>();
    }

    fn describe_size(describe: &mut Describe) {
        describe.json_body::<Size>();
    }

    #[test]
    fn schemas_follow_serde() {
        static BINDING: Binding =
            crate::__private::http_binding(true, "POST", "/orders", &[], "order");
        let document = document("shop", "1.0", &[(&BINDING, describe_order)]);
        let document: Value = serde_json::from_str(&document).unwrap();
        let schemas = &document["components"]["schemas"];
        let order = &schemas["Order"];
        assert_eq!(order["properties"]["itemName"]["type"], "string");
        assert_eq!(
            order["properties"]["sizes"]["items"]["$ref"],
            "#/components/schemas/Size"
        );
        assert_eq!(order["properties"]["price"]["type"], "number");
        assert_eq!(order["required"], json!(["itemName", "sizes", "price"]));
        // Nested, the enum is met with one variant only: its schema says so
        // and accepts anything.
        let size = &schemas["Size"];
        assert!(size.get("enum").is_none(), "{size}");
        assert!(size["description"].as_str().unwrap().contains("could not"));

        // At the top, it is walked whole.
        static SIZES: Binding = crate::__private::http_binding(true, "PUT", "/size", &[], "size");
        let sizes = super::document("shop", "1.0", &[(&SIZES, describe_size)]);
        let sizes: Value = serde_json::from_str(&sizes).unwrap();
        let size = &sizes["components"]["schemas"]["Size"];
        assert_eq!(
            size["oneOf"][0]["enum"],
            json!(["Small", "Large"]),
            "{size}"
        );
        assert_eq!(
            size["oneOf"][1]["properties"]["Custom"]["properties"]["width"]["type"],
            "integer"
        );
    }

    #[test]
    fn untraceable_types_have_no_schema() {
        let mut describe = Describe::new();
        describe.json_body::<serde_json::Value>();
        let body = describe.operation.body.unwrap();
        assert!(body.schema.is_none());
        assert_eq!(body.content_type, "application/json");
    }
}
