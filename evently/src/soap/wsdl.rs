//! The WSDL 1.1 document of an endpoint, with XSD types derived from the
//! operations' Rust types.
//!
//! The schema comes from tracing each type's `Deserialize` implementation
//! with `serde-reflection`: it reports the field names (after serde's
//! renames) and the primitive formats that the deserializer asks for, so the
//! schema describes exactly what the XML decoder accepts, and users derive
//! nothing beyond serde's traits. An evently trait with its own derive would
//! need a second macro and could drift from the serde attributes.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde_reflection::{ContainerFormat, Format, Named, Tracer, TracerConfig, VariantFormat};

use super::handler::Operation;

/// Where the served address goes in a WSDL built by [`document`].
pub(crate) const ADDRESS: &str = "\u{0}address\u{0}";

/// The WSDL of the operations at one path, with [`ADDRESS`] where the
/// endpoint's URL goes.
///
/// # Errors
///
/// When an operation's types cannot be traced, such as an enum whose
/// variants cannot all be reached.
pub(crate) fn document(
    service: &str,
    namespace: &str,
    operations: &[Operation],
) -> Result<String, String> {
    let mut tracer = Tracer::new(TracerConfig::default());
    let mut formats = Vec::new();
    for operation in operations {
        let traced = (operation.trace)(&mut tracer).map_err(|error| {
            format!(
                "the types of the SOAP operation `{}` cannot be described in a WSDL: {error}",
                operation.name
            )
        })?;
        formats.push((operation.name, traced));
    }
    let registry = tracer
        .registry()
        .map_err(|error| format!("the SOAP types of `{service}` cannot be described: {error}"))?;

    let tns = escape(namespace);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <wsdl:definitions name=\"{service}\" targetNamespace=\"{tns}\" \
         xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" \
         xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" \
         xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:tns=\"{tns}\">\n\
         <wsdl:types>\n<xsd:schema targetNamespace=\"{tns}\">\n"
    );

    // One global element per request and response; the types they use.
    for (name, (request, response)) in &formats {
        element(&mut out, name, request);
        element(&mut out, &format!("{name}Response"), response);
    }
    for (name, container) in &registry {
        container_type(&mut out, name, container);
    }
    out.push_str("</xsd:schema>\n</wsdl:types>\n");

    for (name, _) in &formats {
        let _ = write!(
            out,
            "<wsdl:message name=\"{name}Input\"><wsdl:part name=\"parameters\" \
             element=\"tns:{name}\"/></wsdl:message>\n\
             <wsdl:message name=\"{name}Output\"><wsdl:part name=\"parameters\" \
             element=\"tns:{name}Response\"/></wsdl:message>\n"
        );
    }
    let _ = writeln!(out, "<wsdl:portType name=\"{service}PortType\">");
    for (name, _) in &formats {
        let _ = writeln!(
            out,
            "<wsdl:operation name=\"{name}\"><wsdl:input message=\"tns:{name}Input\"/>\
             <wsdl:output message=\"tns:{name}Output\"/></wsdl:operation>"
        );
    }
    out.push_str("</wsdl:portType>\n");
    for (suffix, soap) in [("Soap", "soap"), ("Soap12", "soap12")] {
        let _ = writeln!(
            out,
            "<wsdl:binding name=\"{service}{suffix}\" type=\"tns:{service}PortType\">\
             <{soap}:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
        );
        for (name, _) in &formats {
            let _ = writeln!(
                out,
                "<wsdl:operation name=\"{name}\"><{soap}:operation soapAction=\"{}\" \
                 style=\"document\"/><wsdl:input><{soap}:body use=\"literal\"/></wsdl:input>\
                 <wsdl:output><{soap}:body use=\"literal\"/></wsdl:output></wsdl:operation>",
                escape(super::action(namespace, name))
            );
        }
        out.push_str("</wsdl:binding>\n");
    }
    let _ = write!(
        out,
        "<wsdl:service name=\"{service}\">\
         <wsdl:port name=\"{service}Soap\" binding=\"tns:{service}Soap\">\
         <soap:address location=\"{ADDRESS}\"/></wsdl:port>\
         <wsdl:port name=\"{service}Soap12\" binding=\"tns:{service}Soap12\">\
         <soap12:address location=\"{ADDRESS}\"/></wsdl:port>\
         </wsdl:service>\n</wsdl:definitions>\n"
    );
    Ok(out)
}

/// A global element named `name` of the type of `format`.
fn element(out: &mut String, name: &str, format: &Format) {
    let _ = writeln!(
        out,
        "<xsd:element name=\"{name}\" type=\"{}\"/>",
        type_name(format)
    );
}

/// The XSD type of a format; `Option` and `Vec` are occurrence counts,
/// written by [`field`].
fn type_name(format: &Format) -> String {
    let primitive = match format {
        Format::TypeName(name) => return format!("tns:{name}"),
        Format::Option(inner) | Format::Seq(inner) => return type_name(inner),
        Format::Bool => "boolean",
        Format::I8 => "byte",
        Format::I16 => "short",
        Format::I32 => "int",
        Format::I64 => "long",
        Format::I128 => "integer",
        Format::U8 => "unsignedByte",
        Format::U16 => "unsignedShort",
        Format::U32 => "unsignedInt",
        Format::U64 => "unsignedLong",
        Format::U128 => "nonNegativeInteger",
        Format::F32 => "float",
        Format::F64 => "double",
        Format::Char | Format::Str | Format::Unit => "string",
        Format::Bytes => "base64Binary",
        Format::Map { .. } | Format::Tuple(_) | Format::TupleArray { .. } | Format::Variable(_) => {
            "anyType"
        }
    };
    format!("xsd:{primitive}")
}

/// One field of a complex type: an attribute for quick-xml's `@name`
/// fields, an element otherwise.
fn field(out: &mut String, field: &Named<Format>) {
    let ty = type_name(&field.value);
    if let Some(attribute) = field.name.strip_prefix('@') {
        let required = if matches!(field.value, Format::Option(_)) {
            ""
        } else {
            " use=\"required\""
        };
        let _ = writeln!(
            out,
            "<xsd:attribute name=\"{attribute}\" type=\"{ty}\"{required}/>"
        );
        return;
    }
    let occurs = match &field.value {
        Format::Option(inner) if matches!(**inner, Format::Seq(_)) => {
            " minOccurs=\"0\" maxOccurs=\"unbounded\""
        }
        Format::Option(_) => " minOccurs=\"0\"",
        Format::Seq(_) => " minOccurs=\"0\" maxOccurs=\"unbounded\"",
        _ => "",
    };
    let _ = writeln!(
        out,
        "<xsd:element name=\"{}\" type=\"{ty}\"{occurs}/>",
        field.name
    );
}

/// The named XSD type of a traced Rust type.
fn container_type(out: &mut String, name: &str, container: &ContainerFormat) {
    match container {
        ContainerFormat::Struct(fields) => {
            let (attributes, elements): (Vec<_>, Vec<_>) =
                fields.iter().partition(|f| f.name.starts_with('@'));
            let _ = writeln!(out, "<xsd:complexType name=\"{name}\"><xsd:sequence>");
            elements.into_iter().for_each(|f| field(out, f));
            out.push_str("</xsd:sequence>\n");
            attributes.into_iter().for_each(|f| field(out, f));
            out.push_str("</xsd:complexType>\n");
        }
        ContainerFormat::UnitStruct => {
            let _ = writeln!(
                out,
                "<xsd:complexType name=\"{name}\"><xsd:sequence/></xsd:complexType>"
            );
        }
        ContainerFormat::NewTypeStruct(inner) if !matches!(**inner, Format::TypeName(_)) => {
            let _ = writeln!(
                out,
                "<xsd:simpleType name=\"{name}\"><xsd:restriction base=\"{}\"/></xsd:simpleType>",
                type_name(inner)
            );
        }
        ContainerFormat::Enum(variants)
            if variants
                .values()
                .all(|v| matches!(v.value, VariantFormat::Unit)) =>
        {
            let _ = writeln!(
                out,
                "<xsd:simpleType name=\"{name}\"><xsd:restriction base=\"xsd:string\">"
            );
            for variant in variants.values() {
                let _ = writeln!(out, "<xsd:enumeration value=\"{}\"/>", variant.name);
            }
            out.push_str("</xsd:restriction></xsd:simpleType>\n");
        }
        ContainerFormat::Enum(variants) => {
            let _ = writeln!(out, "<xsd:complexType name=\"{name}\"><xsd:choice>");
            for variant in variants.values() {
                match &variant.value {
                    VariantFormat::NewType(inner) => field(
                        out,
                        &Named {
                            name: variant.name.clone(),
                            value: (**inner).clone(),
                        },
                    ),
                    VariantFormat::Struct(fields) => {
                        let _ = writeln!(
                            out,
                            "<xsd:element name=\"{}\"><xsd:complexType><xsd:sequence>",
                            variant.name
                        );
                        fields.iter().for_each(|f| field(out, f));
                        out.push_str("</xsd:sequence></xsd:complexType></xsd:element>\n");
                    }
                    _ => {
                        let _ = writeln!(out, "<xsd:element name=\"{}\"/>", variant.name);
                    }
                }
            }
            out.push_str("</xsd:choice></xsd:complexType>\n");
        }
        ContainerFormat::NewTypeStruct(_) | ContainerFormat::TupleStruct(_) => {
            let _ = writeln!(
                out,
                "<xsd:complexType name=\"{name}\"><xsd:sequence><xsd:any processContents=\"lax\" \
                 minOccurs=\"0\" maxOccurs=\"unbounded\"/></xsd:sequence></xsd:complexType>"
            );
        }
    }
}
