// What the Box2D envs share: reading a body's shapes into a painter's Scene, and a contact listener
// that reports which bodies touch, so that envs keep their own flags (Gymnasium's ContactDetector).
#pragma once

#include <box2d/box2d.h>

#include <string>

#include "envs/scene.h"

namespace apiary::envs::box2d {

// Appends every polygon fixture of `body` to `scene` in world coordinates (edge fixtures become
// two-point polylines, circles circles), tagged `tag` with `index`.
inline void add_body_shapes(Scene& scene, const b2Body* body, const std::string& tag, int index = 0) {
  const b2Transform& xf = body->GetTransform();
  for (const b2Fixture* f = body->GetFixtureList(); f != nullptr; f = f->GetNext()) {
    const b2Shape* shape = f->GetShape();
    if (shape->GetType() == b2Shape::e_polygon) {
      const auto* poly = static_cast<const b2PolygonShape*>(shape);
      SceneShape& s = scene.add(SceneShape::Kind::kPolygon, tag, index);
      for (int i = 0; i < poly->m_count; ++i) {
        const b2Vec2 p = b2Mul(xf, poly->m_vertices[i]);
        s.xy.push_back(p.x);
        s.xy.push_back(p.y);
      }
    } else if (shape->GetType() == b2Shape::e_edge) {
      const auto* edge = static_cast<const b2EdgeShape*>(shape);
      SceneShape& s = scene.add(SceneShape::Kind::kPolyline, tag, index);
      for (const b2Vec2& v : {edge->m_vertex1, edge->m_vertex2}) {
        const b2Vec2 p = b2Mul(xf, v);
        s.xy.push_back(p.x);
        s.xy.push_back(p.y);
      }
    } else if (shape->GetType() == b2Shape::e_circle) {
      const auto* circle = static_cast<const b2CircleShape*>(shape);
      SceneShape& s = scene.add(SceneShape::Kind::kCircle, tag, index);
      const b2Vec2 p = b2Mul(xf, circle->m_p);
      s.xy = {p.x, p.y};
      s.radius = circle->m_radius;
    }
  }
}

// Calls on_contact(bodyA, bodyB, touching) at the start (true) and end (false) of every contact.
template <class Fn>
class ContactListener final : public b2ContactListener {
 public:
  explicit ContactListener(Fn fn) : fn_(std::move(fn)) {}
  void BeginContact(b2Contact* contact) override {
    fn_(contact->GetFixtureA()->GetBody(), contact->GetFixtureB()->GetBody(), true);
  }
  void EndContact(b2Contact* contact) override {
    fn_(contact->GetFixtureA()->GetBody(), contact->GetFixtureB()->GetBody(), false);
  }

 private:
  Fn fn_;
};

}  // namespace apiary::envs::box2d
