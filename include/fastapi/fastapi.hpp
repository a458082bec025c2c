// The parts of fastapi.hpp, in the order a request flows through them. tools/amalgamate
// starts here; include this file to use the parts directly while working on them.
#pragma once
#include "config.hpp"
#include "meta.hpp"
#include "http_types.hpp"
#include "http_parser.hpp"
#include "reflect.hpp"
#include "model.hpp"
#include "validation.hpp"
#include "json.hpp"
