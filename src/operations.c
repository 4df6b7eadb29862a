/*
 * operations.c: the API's operations as one table. Each row drives the URL
 * building, the argument checks and the decoding of one operation, and the
 * Lua layer builds its methods from the same rows: adding an operation is
 * adding a row.
 */
#include <string.h>

#include "paperspace.h"

static const ps_operation operations[] = {
    {"get_session", "GET", "/auth/session", {{NULL, 0, 0}}, 0, PS_RESULT_NULLABLE, "session"},
    {"list_team_members", "GET", "/teams/{team_id}/users", {{NULL, 0, 0}}, 1, PS_RESULT_JSON,
     "member"},
    {"update_team_member", "PUT", "/teams/{team_id}/users/{user_id}",
     {{"isAdmin", PS_FIELD_BOOLEAN, 0}, {NULL, 0, 0}}, 0, PS_RESULT_JSON, "member"},
    {"remove_team_member", "DELETE", "/teams/{team_id}/users/{user_id}", {{NULL, 0, 0}}, 0,
     PS_RESULT_NONE, NULL},
    {"list_team_secrets", "GET", "/teams/{team_id}/secrets", {{NULL, 0, 0}}, 1, PS_RESULT_JSON,
     "secret"},
    {"create_team_secret", "POST", "/teams/{team_id}/secrets",
     {{"name", PS_FIELD_NAME, 0}, {"value", PS_FIELD_STRING, 1}, {NULL, 0, 0}}, 0,
     PS_RESULT_JSON, "secret"},
    {"get_team_secret", "GET", "/teams/{team_id}/secrets/{name}", {{NULL, 0, 0}}, 0,
     PS_RESULT_JSON, "secret"},
    {"update_team_secret", "PATCH", "/teams/{team_id}/secrets/{name}",
     {{"value", PS_FIELD_STRING, 1}, {NULL, 0, 0}}, 0, PS_RESULT_JSON, "secret"},
    {"delete_team_secret", "DELETE", "/teams/{team_id}/secrets/{name}", {{NULL, 0, 0}}, 0,
     PS_RESULT_NONE, NULL},
};

#define NOPERATIONS (sizeof(operations) / sizeof(operations[0]))

const ps_operation *ps_operation_find(const char *name) {
    size_t i;
    for (i = 0; i < NOPERATIONS; i++)
        if (strcmp(operations[i].name, name) == 0)
            return &operations[i];
    return NULL;
}

/* How many "{param}" segments the path template has. */
int ps_operation_nparams(const ps_operation *op) {
    const char *p;
    int n = 0;
    for (p = op->path; *p; p++)
        n += *p == '{';
    return n;
}

/* Positional arguments after the operation name: the path parameters, then
 * the body when there is one, then the options table. */
int ps_operation_nargs(const ps_operation *op) {
    return ps_operation_nparams(op) + (op->fields[0].name != NULL) + 1;
}

static const char *field_type_name(enum ps_field_type t) {
    return t == PS_FIELD_BOOLEAN ? "boolean" : "string";
}

static void push_params(lua_State *L, const ps_operation *op) {
    const char *p = op->path;
    int n = 0;
    lua_createtable(L, ps_operation_nparams(op), 0);
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        lua_pushlstring(L, p + 1, (size_t)(end - p - 1));
        lua_rawseti(L, -2, ++n);
        p = end;
    }
}

static void push_fields(lua_State *L, const ps_operation *op) {
    const ps_field *f;
    int n = 0;
    lua_createtable(L, PS_MAX_FIELDS, 0);
    for (f = op->fields; f->name != NULL; f++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, f->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, field_type_name(f->type));
        lua_setfield(L, -2, "type");
        lua_pushboolean(L, f->secret);
        lua_setfield(L, -2, "secret");
        lua_rawseti(L, -2, ++n);
    }
}

/* Pushes the table as Lua data: { {name=, method=, path=, params=, fields=,
 * paged=, result=, item=}, ... } in the order of the rows above. */
void ps_operations_push(lua_State *L) {
    static const char *const results[] = {"json", "nullable", "none"};
    size_t i;
    lua_createtable(L, (int)NOPERATIONS, 0);
    for (i = 0; i < NOPERATIONS; i++) {
        const ps_operation *op = &operations[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, op->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, op->method);
        lua_setfield(L, -2, "method");
        lua_pushstring(L, op->path);
        lua_setfield(L, -2, "path");
        push_params(L, op);
        lua_setfield(L, -2, "params");
        push_fields(L, op);
        lua_setfield(L, -2, "fields");
        lua_pushboolean(L, op->paged);
        lua_setfield(L, -2, "paged");
        lua_pushstring(L, results[op->result]);
        lua_setfield(L, -2, "result");
        if (op->item != NULL) {
            lua_pushstring(L, op->item);
            lua_setfield(L, -2, "item");
        }
        lua_rawseti(L, -2, (int)i + 1);
    }
}
