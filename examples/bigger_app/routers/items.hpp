// The items router (FastAPI's app/routers/items.py): a prefix, a tag, a dependency and a
// declared response shared by every route.
#pragma once
#include "../dependencies.hpp"
#include "fastapi.hpp"

#include <map>
#include <string>

namespace routers::items {

struct Item {
    std::string name;
};
// The fake database, as it is listed (a struct keeps the keys in order).
struct FakeItemsDb {
    Item plumbus;
    Item gun;
};
inline const FakeItemsDb fake_items_db{{"Plumbus"}, {"Portal Gun"}};

inline const Item* find_item(const std::string& item_id) {
    if (item_id == "plumbus") return &fake_items_db.plumbus;
    if (item_id == "gun") return &fake_items_db.gun;
    return nullptr;
}

struct ItemWithId {
    std::string name;
    std::string item_id;
};
struct UpdatedItem {
    std::string item_id;
    std::string name;
};

inline FakeItemsDb read_items() { return fake_items_db; }

inline ItemWithId read_item(fastapi::Path<"item_id", std::string> item_id) {
    const Item* item = find_item(*item_id);
    if (!item) throw fastapi::HTTPException(404, "Item not found");
    return {item->name, *item_id};
}

inline UpdatedItem update_item(fastapi::Path<"item_id", std::string> item_id) {
    if (*item_id != "plumbus") throw fastapi::HTTPException(403, "You can only update the item: plumbus");
    return {*item_id, "The great Plumbus"};
}

inline fastapi::APIRouter router() {
    fastapi::APIRouter router({
        .prefix = "/items",
        .tags = {"items"},
        .dependencies = {fastapi::Depends<get_token_header>{}},
        .responses = {{404, {"Not found"}}},
    });

    router.get<read_items>("/");
    router.get<read_item>("/{item_id}");
    router.put<update_item>("/{item_id}", {.tags = {"custom"}, .responses = {{403, {"Operation forbidden"}}}});

    return router;
}

}  // namespace routers::items
