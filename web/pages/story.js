// A link to a provenance item that is folded into a <details> opens it,
// also in browsers that do not do so for a fragment themselves; the page
// works without this script in those that do.
(function(){
  function reveal(){
    var id=decodeURIComponent(location.hash.slice(1));
    var el=id&&document.getElementById(id);
    if(!el)return;
    var opened=false;
    for(var d=el.parentElement;d;d=d.parentElement){if(d.tagName==='DETAILS'&&!d.open){d.open=true;opened=true}}
    if(opened)el.scrollIntoView();
  }
  window.addEventListener('hashchange',reveal);
  reveal();
})();
