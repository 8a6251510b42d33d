/**
 * Schema decoders compiled once into plain checks, for the wire formats decoded on every call (a completion, a
 * request, a stream chunk). Effect's parser is general (async steps, every error collected and described) and
 * costs some 15 µs for a completion; the compiled check does the same walk without that machinery.
 *
 * It compiles only declarations: structs, arrays, unions, literals, keywords and refinements, the parts these
 * schemas use. None of them changes a value, and excess properties are preserved, so what Effect's decoder returns
 * is a copy equal to the input (its keys in another order): the compiled check only checks, and an input it takes
 * is returned itself, with nothing copied. Any input it refuses, and any schema part it does not know, goes to
 * Effect's decoder, so errors and every other case are Effect's own.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** What a compiled check returns for an input it refuses. */
const REFUSED: unique symbol = Symbol("REFUSED")
type Check = (input: unknown) => unknown

const options: AST.ParseOptions = { onExcessProperty: "preserve" }

/** A schema part the compiled check leaves to Effect's decoder. */
class Unsupported {}

const annotated = (ast: AST.AST): boolean =>
  Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))

/**
 * A struct, or a struct with `Schema.Record({ key: Schema.String, value: Schema.Unknown })` for the rest: the declared
 * fields are checked; excess keys, and the rest's, take any value.
 */
const typeLiteral = (ast: AST.TypeLiteral): Check => {
  const rest = ast.indexSignatures.length === 1 ? ast.indexSignatures[0]! : undefined
  if (ast.indexSignatures.length > 1 || (rest !== undefined && !(anyString(rest.parameter) && anyValue(rest.type))))
    throw new Unsupported()
  if (ast.propertySignatures.length === 0 && rest === undefined)
    return (input) => (input === null || input === undefined ? REFUSED : input)
  const fields = ast.propertySignatures.map((ps) => ({
    name: ps.name,
    optional: ps.isOptional,
    check: compile(ps.type)
  }))
  return (input) => {
    if (!Predicate.isRecord(input)) return REFUSED
    for (const field of fields) {
      if (field.optional && !Object.prototype.hasOwnProperty.call(input, field.name)) continue
      if (field.check(input[field.name]) === REFUSED) return REFUSED
    }
    return input
  }
}

const anyString = (ast: AST.AST): boolean => AST.isStringKeyword(ast) && !annotated(ast)
const anyValue = (ast: AST.AST): boolean => (AST.isUnknownKeyword(ast) || AST.isAnyKeyword(ast)) && !annotated(ast)

const tupleType = (ast: AST.TupleType): Check => {
  if (ast.elements.length > 0 || ast.rest.length !== 1) throw new Unsupported()
  const item = compile(ast.rest[0]!.type)
  return (input) => {
    if (!Array.isArray(input)) return REFUSED
    for (let i = 0; i < input.length; i++) if (item(input[i]) === REFUSED) return REFUSED
    return input
  }
}

/** Whether a union member may take objects or arrays, where two members could both take an input. */
const structural = (ast: AST.AST): boolean => {
  let base = ast
  while (AST.isRefinement(base)) base = base.from
  return !(
    AST.isLiteral(base) ||
    AST.isStringKeyword(base) ||
    AST.isNumberKeyword(base) ||
    AST.isBooleanKeyword(base) ||
    AST.isUndefinedKeyword(base)
  )
}

/**
 * Members of a union are tried in order. With at most one member that is not a primitive they cannot overlap,
 * so the first that takes the input is the one Effect's decoder would pick; anything else is left to it.
 */
const union = (ast: AST.Union): Check => {
  if (ast.types.filter(structural).length > 1) throw new Unsupported()
  const members = ast.types.map(compile)
  return (input) => {
    for (const member of members) {
      const value = member(input)
      if (value !== REFUSED) return value
    }
    return REFUSED
  }
}

const refinement = (ast: AST.Refinement): Check => {
  const from = compile(ast.from)
  return (input) => {
    const value = from(input)
    return value === REFUSED || Option.isSome(ast.filter(value, options, ast)) ? REFUSED : value
  }
}

const compile = (ast: AST.AST): Check => {
  if (annotated(ast)) throw new Unsupported()
  switch (ast._tag) {
    case "StringKeyword":
      return (input) => (typeof input === "string" ? input : REFUSED)
    case "NumberKeyword":
      return (input) => (typeof input === "number" ? input : REFUSED)
    case "BooleanKeyword":
      return (input) => (typeof input === "boolean" ? input : REFUSED)
    case "UndefinedKeyword":
      return (input) => (input === undefined ? input : REFUSED)
    case "UnknownKeyword":
    case "AnyKeyword":
      return (input) => input
    case "Literal": {
      const literal = ast.literal
      return (input) => (input === literal ? input : REFUSED)
    }
    case "TypeLiteral":
      return typeLiteral(ast)
    case "TupleType":
      return tupleType(ast)
    case "Union":
      return union(ast)
    case "Refinement":
      return refinement(ast)
    default:
      throw new Unsupported()
  }
}

/**
 * `Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve" })`, with the inputs that pass taking the
 * compiled check.
 */
export const decoder = <A, I>(
  schema: Schema.Schema<A, I, never>
): ((input: unknown) => Either.Either<A, ParseResult.ParseError>) => {
  const slow = Schema.decodeUnknownEither(schema, options)
  let check: Check
  try {
    check = compile(schema.ast)
  } catch (error) {
    if (error instanceof Unsupported) return slow
    throw error
  }
  return (input) => {
    const value = check(input)
    return value === REFUSED ? slow(input) : Either.right(value as A)
  }
}
